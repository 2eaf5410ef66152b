-- One row per project x budget period (ISO week and calendar month, UTC) with data.
-- variance_kgco2e  = actual_kgco2e - budget_kgco2e
-- variance_pct     = variance_kgco2e / budget_kgco2e x 100
-- forecast_kgco2e  = actual_kgco2e / hours_elapsed x period_hours for the current period (the one
--                    holding the last hour of data), straight-line from the hours since the period
--                    began; = actual for past periods
-- status           = 'no_budget' | 'over_budget' (actual > budget) | 'at_risk' (forecast > budget) | 'on_track'
-- Actual is location-based carbon (market-based alongside). A period override beats the default.
{{ config(**table_layout(cluster_by=['project_id', 'period_type'])) }}
with facts as (
    select f.project_id, f.hour_utc, f.carbon_kgco2e_location, f.carbon_kgco2e_market,
           d.iso_week, d.iso_week_start, f.date_day
    from {{ ref('inference_energy_fact') }} f
    join {{ ref('dim_date') }} d on d.date_day = f.date_day
),

periods as (
    select project_id, 'week' as period_type, iso_week as period, iso_week_start as period_start,
           {{ date_add_days('iso_week_start', 7) }} as period_end,
           hour_utc, carbon_kgco2e_location, carbon_kgco2e_market
    from facts
    union all
    select project_id, 'month', {{ month_label('date_day') }},
           {{ month_start('date_day') }},
           {{ date_add_months(month_start('date_day'), 1) }},
           hour_utc, carbon_kgco2e_location, carbon_kgco2e_market
    from facts
),

actuals as (
    select
        project_id, period_type, period,
        min(period_start)                 as period_start,
        min(period_end)                   as period_end,
        {{ stable_sum('carbon_kgco2e_location') }}       as actual_kgco2e,
        {{ stable_sum('carbon_kgco2e_market') }}         as actual_kgco2e_market
    from periods
    group by project_id, period_type, period
),

data_end as (
    select max(hour_utc) as last_hour_utc from {{ ref('inference_energy_fact') }}
),

budgets as (
    select
        a.project_id, a.period_type, a.period,
        coalesce(o.carbon_budget_kgco2e, dflt.carbon_budget_kgco2e) as budget_kgco2e
    from actuals a
    left join {{ ref('stg_inventory__project_budgets') }} o
      on o.project_id = a.project_id and o.period_type = a.period_type and o.budget_period = a.period
    left join {{ ref('stg_inventory__project_budgets') }} dflt
      on dflt.project_id = a.project_id and dflt.period_type = a.period_type and dflt.budget_period = '*'
),

with_forecast as (
    select
        a.*,
        b.budget_kgco2e,
        cast(e.last_hour_utc as date) >= a.period_start and cast(e.last_hour_utc as date) < a.period_end as is_current_period,
        -- hours from the period's first hour to the end of the last hour with data
        {{ dbt.datediff('a.period_start', 'e.last_hour_utc', 'hour') }} + 1  as hours_elapsed,
        {{ dbt.datediff('a.period_start', 'a.period_end', 'hour') }}         as period_hours
    from actuals a
    cross join data_end e
    join budgets b on b.project_id = a.project_id and b.period_type = a.period_type and b.period = a.period
),

final as (
    select
        project_id,
        period_type,
        period,
        period_start,
        budget_kgco2e,
        actual_kgco2e,
        actual_kgco2e_market,
        actual_kgco2e - budget_kgco2e                                         as variance_kgco2e,
        {{ safe_divide('(actual_kgco2e - budget_kgco2e) * 100.0', 'budget_kgco2e') }} as variance_pct,
        is_current_period,
        case when is_current_period and hours_elapsed < period_hours
             then actual_kgco2e / hours_elapsed * period_hours
             else actual_kgco2e end                                          as forecast_kgco2e
    from with_forecast
)

select
    *,
    case
        when budget_kgco2e is null then 'no_budget'
        when actual_kgco2e > budget_kgco2e then 'over_budget'
        when forecast_kgco2e > budget_kgco2e then 'at_risk'
        else 'on_track'
    end as status
from final

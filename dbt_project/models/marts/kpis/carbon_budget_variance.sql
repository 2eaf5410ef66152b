-- One row per project x ISO week with data.
-- variance_kgco2e  = actual_kgco2e - budget_kgco2e
-- variance_pct     = variance_kgco2e / budget_kgco2e x 100
-- forecast_kgco2e  = actual_kgco2e / hours_elapsed x 168 for the current (last) week of data,
--                    straight-line from the hours elapsed since Monday 00:00 UTC; = actual for past weeks
-- status           = 'no_budget' | 'over_budget' (actual > budget) | 'at_risk' (forecast > budget) | 'on_track'
-- Actual is location-based carbon (market-based alongside). A week override beats the default budget.
with weekly as (
    select
        f.project_id,
        d.iso_week,
        min(d.iso_week_start)             as iso_week_start,
        sum(f.carbon_kgco2e_location)     as actual_kgco2e,
        sum(f.carbon_kgco2e_market)       as actual_kgco2e_market,
        max(f.hour_utc)                   as last_hour_utc
    from {{ ref('inference_energy_fact') }} f
    join {{ ref('dim_date') }} d on d.date_day = f.date_day
    group by f.project_id, d.iso_week
),

data_end as (
    select max(hour_utc) as last_hour_utc from {{ ref('inference_energy_fact') }}
),

budgets as (
    select
        w.project_id, w.iso_week,
        coalesce(o.carbon_budget_kgco2e, dflt.carbon_budget_kgco2e) as budget_kgco2e
    from weekly w
    left join {{ ref('stg_inventory__project_budgets') }} o
      on o.project_id = w.project_id and o.iso_week = w.iso_week
    left join {{ ref('stg_inventory__project_budgets') }} dflt
      on dflt.project_id = w.project_id and dflt.iso_week = '*'
),

with_forecast as (
    select
        w.*,
        b.budget_kgco2e,
        {{ iso_week_label('cast(e.last_hour_utc as date)') }} = w.iso_week as is_current_week,
        -- hours from Monday 00:00 UTC to the end of the last hour with data
        {{ dbt.datediff('w.iso_week_start', 'e.last_hour_utc', 'hour') }} + 1 as hours_elapsed
    from weekly w
    cross join data_end e
    join budgets b on b.project_id = w.project_id and b.iso_week = w.iso_week
),

final as (
    select
        project_id,
        iso_week,
        iso_week_start,
        budget_kgco2e,
        actual_kgco2e,
        actual_kgco2e_market,
        actual_kgco2e - budget_kgco2e                                         as variance_kgco2e,
        {{ safe_divide('(actual_kgco2e - budget_kgco2e) * 100.0', 'budget_kgco2e') }} as variance_pct,
        is_current_week,
        case when is_current_week and hours_elapsed < 168
             then actual_kgco2e / hours_elapsed * 168
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

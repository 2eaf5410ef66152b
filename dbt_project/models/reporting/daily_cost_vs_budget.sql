{{ config(materialized='view', schema='reporting') }}

-- One row per UTC day x project: the day's inference cost against the project's daily cost budget
-- (reference view project_cost_budget).
-- variance_usd    = cost_usd - daily_cost_budget_usd;  budget_used_pct = cost_usd / budget x 100
-- forecast_cost_usd = cost_usd / hours with data x 24 on the latest day of data (the day still
--                   filling: "today"), cost_usd on earlier days. No wall clock in the logic: "today"
--                   is the last UTC day in the fact.
-- status = no_budget | over_budget (cost > budget) | at_risk (forecast > budget) | on_track,
-- the carbon budget's rules.
with fact as (
    select * from {{ ref('inference_energy_fact') }}
),
daily as (
    select
        date_day,
        project_id,
        {{ stable_sum('hardware_cost_usd') }}  as hardware_cost_usd,
        {{ stable_sum('energy_cost_usd') }}    as energy_cost_usd,
        {{ stable_sum('cloud_cost_usd') }}     as cloud_cost_usd,
        {{ stable_sum('cost_usd') }}           as cost_usd,
        -- counts as BIGINT: DuckDB sums them to HUGEINT, which ODBC/JDBC clients (BI tools) mishandle
        cast(sum(successful_requests) as {{ dbt.type_bigint() }}) as successful_inferences
    from fact
    group by date_day, project_id
),
data_end as (
    select max(hour_utc) as last_hour_utc from fact
),
with_forecast as (
    select
        d.*,
        cast(e.last_hour_utc as date) = d.date_day as is_latest_day,
        case when cast(e.last_hour_utc as date) = d.date_day
             then {{ dbt.datediff('cast(d.date_day as timestamp)', 'e.last_hour_utc', 'hour') }} + 1
             else 24 end                             as hours_with_data,
        b.daily_cost_budget_usd
    from daily d
    cross join data_end e
    left join {{ ref('project_cost_budget') }} b on b.project_id = d.project_id
),
final as (
    select
        w.*,
        w.cost_usd * 24.0 / w.hours_with_data as forecast_cost_usd
    from with_forecast w
)
select
    f.date_day,
    cast({{ dbt.date_trunc('month', 'f.date_day') }} as date)              as month_start_date,
    f.project_id,
    p.team,
    f.is_latest_day,
    f.hours_with_data,
    f.successful_inferences,
    f.hardware_cost_usd,
    f.energy_cost_usd,
    f.cloud_cost_usd,
    f.cost_usd,
    f.daily_cost_budget_usd,
    f.cost_usd - f.daily_cost_budget_usd                                  as variance_usd,
    {{ safe_divide('(f.cost_usd - f.daily_cost_budget_usd) * 100.0', 'f.daily_cost_budget_usd') }} as variance_pct,
    {{ safe_divide('f.cost_usd * 100.0', 'f.daily_cost_budget_usd') }}     as budget_used_pct,
    f.forecast_cost_usd,
    {{ safe_divide('f.cost_usd', 'f.successful_inferences') }}             as cost_per_transaction_usd,
    case
        when f.daily_cost_budget_usd is null then 'no_budget'
        when f.cost_usd > f.daily_cost_budget_usd then 'over_budget'
        when f.forecast_cost_usd > f.daily_cost_budget_usd then 'at_risk'
        else 'on_track'
    end                                                                  as status
from final f
left join {{ ref('dim_project') }} p on p.project_id = f.project_id

{{ config(materialized='view', schema='reporting') }}

-- One row per project x budget period (ISO week or UTC calendar month): marts.carbon_budget_variance
-- in reporting names, with the team and how much of the budget is used. Budgets, forecast and status
-- are computed in the mart (docs/methodology.md): actual = location-based carbon; forecast = straight
-- line over the hours elapsed in the current period; no_budget is never a budget of zero.
select
    v.project_id,
    p.team,
    v.period_type,
    v.period,
    v.period_start                                                        as period_start_date,
    v.is_current_period,
    v.budget_kgco2e                                                       as carbon_budget_kgco2e,
    v.actual_kgco2e                                                       as carbon_location_based_kgco2e,
    v.actual_kgco2e_market                                                as carbon_market_based_kgco2e,
    v.variance_kgco2e,
    v.variance_pct,
    {{ safe_divide('v.actual_kgco2e * 100.0', 'v.budget_kgco2e') }}       as budget_used_pct,
    v.forecast_kgco2e,
    v.forecast_kgco2e - v.budget_kgco2e                                   as forecast_variance_kgco2e,
    {{ safe_divide('v.forecast_kgco2e * 100.0', 'v.budget_kgco2e') }}     as forecast_budget_used_pct,
    v.status
from {{ ref('carbon_budget_variance') }} v
left join {{ ref('dim_project') }} p on p.project_id = v.project_id

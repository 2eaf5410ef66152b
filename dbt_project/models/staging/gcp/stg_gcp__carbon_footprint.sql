-- One row per usage month, billing account, project, service and location: GCP's Carbon Footprint
-- as reported, newest carbon model version of each month only (when files of a restated month and
-- of its old version are both present, sums would double).
-- Scopes and totals are kept as reported. totals_match_scopes_* say whether the reported total
-- equals scope 1 + scope 2 + scope 3 (within 0.1 %); Google's own documented example row does not:
-- such rows are kept and flagged (a warning test), never corrected.
with ranked as (
    select
        *,
        dense_rank() over (partition by usage_month order by carbon_model_version desc nulls last) as version_rank
    from {{ source('raw', 'gcp_carbon_footprint') }}
),

latest as (
    select
        *,
        coalesce(scope1_kgco2e, 0) + coalesce(scope2_location_kgco2e, 0) + coalesce(scope3_kgco2e, 0) as scopes_location_kgco2e,
        coalesce(scope1_kgco2e, 0) + coalesce(scope2_market_kgco2e, 0) + coalesce(scope3_kgco2e, 0)   as scopes_market_kgco2e
    from ranked
    where version_rank = 1
)

select
    usage_month,
    usage_month_start,
    {{ date_add_days(date_add_months('usage_month_start', 1), -1) }} as usage_month_end,
    carbon_model_version,
    billing_account_id,
    project_id,
    project_number,
    service_id,
    service_description,
    location,
    coalesce(region, location)                                   as region,
    scope1_kgco2e,
    scope2_location_kgco2e,
    scope2_market_kgco2e,
    scope3_kgco2e,
    total_location_kgco2e,
    total_market_kgco2e,
    scopes_location_kgco2e,
    scopes_market_kgco2e,
    abs(total_location_kgco2e - scopes_location_kgco2e)
        <= 0.001 * greatest(abs(total_location_kgco2e), abs(scopes_location_kgco2e), 1e-9) as totals_match_scopes_location,
    abs(total_market_kgco2e - scopes_market_kgco2e)
        <= 0.001 * greatest(abs(total_market_kgco2e), abs(scopes_market_kgco2e), 1e-9)   as totals_match_scopes_market,
    -- one carbon row's identity (NULL parts count as empty: a row without a project is a row too)
    {{ dbt.hash(dbt.concat(["usage_month", "'|'", "coalesce(billing_account_id, '')", "'|'", "coalesce(project_id, '')",
                            "'|'", "coalesce(service_id, '')", "'|'", "coalesce(location, '')"])) }} as carbon_row_id,
    _source_file,
    _source_line
from latest

{{ config(**daily_incremental(cluster_by=['deployment_id', 'model_id'])) }}

-- One row per UTC day x deployment x model.
-- carbon_gco2e_per_inference   = carbon_kgco2e_location x 1000 / successful_requests
-- carbon_gco2e_per_1k_requests = carbon_kgco2e_location x 1000 x 1000 / requests
-- carbon_gco2e_per_1k_tokens   = carbon_kgco2e_location x 1000 x 1000 / (prompt + completion tokens)
-- Location-based carbon of facility energy (GPU energy x PUE x grid intensity); failed requests
-- count in the per-1k figure and not in the per-inference one, so failures raise the latter.
with daily as (
    select
        date_day, deployment_id, model_id,
        sum(requests)                as requests,
        sum(successful_requests)     as successful_requests,
        sum(total_tokens)            as total_tokens,
        {{ stable_sum('carbon_kgco2e_location') }}  as carbon_kgco2e_location,
        {{ stable_sum('carbon_kgco2e_market') }}    as carbon_kgco2e_market
    from {{ ref('inference_energy_fact') }}
    where is_allocated and {{ in_run_interval('date_day') }}
    group by date_day, deployment_id, model_id
)
select
    *,
    {{ per_thousand('carbon_kgco2e_location', 'successful_requests') }}              as carbon_gco2e_per_inference,
    {{ per_thousand('carbon_kgco2e_location * 1000.0', 'requests') }}                as carbon_gco2e_per_1k_requests,
    {{ per_thousand('carbon_kgco2e_location * 1000.0', 'total_tokens') }}            as carbon_gco2e_per_1k_tokens
from daily

{{ config(**daily_incremental(cluster_by=['deployment_id', 'model_id'])) }}

-- One row per UTC day x deployment x model.
-- Software Carbon Intensity (ISO/IEC 21031:2024): SCI = (E x I + M) per R, with
--   E x I = facility energy (GPU energy x PUE) x location-based grid intensity = carbon_kgco2e_location
--   M     = embodied emissions of the GPUs amortized per GPU-hour over their life = embodied_kgco2e
--   R     = one million tokens (prompt + completion)
-- Boundary: the serving GPUs; host CPUs, memory, storage and network are outside it (docs/methodology.md).
-- sci_gco2e_per_million_tokens = (carbon_kgco2e_location + embodied_kgco2e) x 1000 x 1e6 / total_tokens
with daily as (
    select
        date_day, deployment_id, model_id,
        sum(total_tokens)            as total_tokens,
        {{ stable_sum('facility_energy_kwh') }}     as facility_energy_kwh,
        {{ stable_sum('carbon_kgco2e_location') }}  as operational_kgco2e,
        {{ stable_sum('embodied_kgco2e') }}         as embodied_kgco2e
    from {{ ref('inference_energy_fact') }}
    where is_allocated and {{ in_run_interval('date_day') }}
    group by date_day, deployment_id, model_id
)
select
    *,
    {{ per_million('(operational_kgco2e + embodied_kgco2e) * 1000.0', 'total_tokens') }} as sci_gco2e_per_million_tokens
from daily

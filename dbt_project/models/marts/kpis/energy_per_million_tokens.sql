{{ config(**daily_incremental(cluster_by=['deployment_id', 'model_id'])) }}

-- One row per UTC day x deployment x model.
-- gpu_kwh_per_million_tokens      = gpu_energy_kwh      x 1e6 / (prompt_tokens + completion_tokens)
-- facility_kwh_per_million_tokens = facility_energy_kwh x 1e6 / (prompt_tokens + completion_tokens)
-- Energy includes the deployment's idle hours that day: that energy was spent to be able to serve.
-- NULL when the day has no tokens.
with daily as (
    select
        date_day, deployment_id, model_id,
        sum(requests)            as requests,
        sum(prompt_tokens)       as prompt_tokens,
        sum(completion_tokens)   as completion_tokens,
        sum(total_tokens)        as total_tokens,
        {{ stable_sum('gpu_energy_kwh') }}      as gpu_energy_kwh,
        {{ stable_sum('facility_energy_kwh') }} as facility_energy_kwh
    from {{ ref('inference_energy_fact') }}
    where is_allocated and {{ in_run_interval('date_day') }}
    group by date_day, deployment_id, model_id
)
select
    *,
    {{ per_million('gpu_energy_kwh', 'total_tokens') }}           as gpu_kwh_per_million_tokens,
    {{ per_million('facility_energy_kwh', 'total_tokens') }}      as facility_kwh_per_million_tokens,
    {{ per_million('gpu_energy_kwh', 'completion_tokens') }}      as gpu_kwh_per_million_output_tokens
from daily

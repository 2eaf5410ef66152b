{{ config(**daily_incremental(cluster_by=['deployment_id', 'model_id'])) }}

-- One row per UTC day x deployment x model x hardware (GPU model).
-- tokens_per_joule        = (prompt_tokens + completion_tokens) / (gpu_energy_kwh x 3.6e6)
-- output_tokens_per_joule = completion_tokens / (gpu_energy_kwh x 3.6e6)
-- The model efficiency ratio: higher is better; GPU energy only (no PUE), idle hours included.
with daily as (
    select
        date_day, deployment_id, model_id, gpu_name as hardware_id,
        sum(total_tokens)       as total_tokens,
        sum(completion_tokens)  as completion_tokens,
        {{ stable_sum('gpu_energy_kwh') }}     as gpu_energy_kwh
    from {{ ref('inference_energy_fact') }}
    where is_allocated and {{ in_run_interval('date_day') }}
    group by date_day, deployment_id, model_id, gpu_name
)
select
    *,
    {{ safe_divide('total_tokens', 'gpu_energy_kwh * 3600000.0') }}      as tokens_per_joule,
    {{ safe_divide('completion_tokens', 'gpu_energy_kwh * 3600000.0') }} as output_tokens_per_joule
from daily

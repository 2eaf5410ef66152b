{{ config(**daily_incremental(cluster_by=['deployment_id', 'model_id'])) }}

-- One row per UTC day x deployment x model: the drivers that explain energy per token.
-- avg_batch_size        = sum(request latency) / (GPU-hours x 3600 s): requests in flight per GPU
--                         on average (Little's law: concurrency = busy time / elapsed time)
-- cache_hit_rate_pct    = cached_prompt_tokens / prompt_tokens x 100
-- avg_utilization_gpu_pct, avg grid intensity, and the KPI they explain side by side; model tier
-- from the inventory.
with daily as (
    select
        f.date_day, f.deployment_id, f.model_id,
        sum(f.requests)                    as requests,
        sum(f.total_tokens)                as total_tokens,
        sum(f.prompt_tokens)               as prompt_tokens,
        sum(f.cached_prompt_tokens)        as cached_prompt_tokens,
        {{ stable_sum('f.total_latency_ms') }}            as total_latency_ms,
        {{ stable_sum('f.gpu_hours') }}                   as gpu_hours,
        {{ stable_sum('f.gpu_energy_kwh') }}              as gpu_energy_kwh,
        {{ stable_sum('f.facility_energy_kwh') }}         as facility_energy_kwh,
        {{ stable_sum('f.carbon_kgco2e_location') }}      as carbon_kgco2e_location,
        {{ safe_divide(stable_sum('f.avg_utilization_gpu_pct * f.gpu_hours'), stable_sum('case when f.avg_utilization_gpu_pct is not null then f.gpu_hours end')) }} as avg_utilization_gpu_pct
    from {{ ref('inference_energy_fact') }} f
    where f.is_allocated and {{ in_run_interval('f.date_day') }}
    group by f.date_day, f.deployment_id, f.model_id
)
select
    d.*,
    m.tier                                                                      as model_tier,
    {{ safe_divide('d.total_latency_ms / 1000.0', 'd.gpu_hours * 3600.0') }}    as avg_batch_size,
    {{ safe_divide('d.cached_prompt_tokens * 100.0', 'd.prompt_tokens') }}      as cache_hit_rate_pct,
    {{ safe_divide('d.carbon_kgco2e_location * 1000.0', 'd.facility_energy_kwh') }} as avg_gco2e_per_kwh_location,
    {{ per_million('d.gpu_energy_kwh', 'd.total_tokens') }}                     as gpu_kwh_per_million_tokens
from daily d
left join {{ ref('dim_model') }} m on m.model_id = d.model_id

{{ config(**daily_incremental(cluster_by=['deployment_id'])) }}

-- One row per UTC day x deployment x model x metric that regressed: the day's value is worse than the
-- mean of the previous 7 days (with data) of the same deployment and model by more than var
-- regression_threshold_pct, when that mean has at least var regression_min_baseline_days days. By model too: a deployment whose logs name two models (a model the
-- inventory does not list is kept as logged) has a baseline for each, never a mix of both.
-- Metrics: gpu_kwh_per_million_tokens and carbon_gco2e_per_inference (higher is worse).
-- likely_driver: the explanatory variable that moved most in the adverse direction, relative to
-- its own baseline: GPU utilization (down), batch size (down), prompt-cache hit rate (down), grid
-- intensity (up; carbon only). 'unexplained' when none moved adversely.
with days as (
    select
        b.date_day, b.deployment_id, b.model_id,
        b.gpu_kwh_per_million_tokens,
        {{ safe_divide('b.carbon_kgco2e_location * 1000.0', 'c.successful_requests') }} as carbon_gco2e_per_inference,
        b.avg_utilization_gpu_pct, b.avg_batch_size, b.cache_hit_rate_pct, b.avg_gco2e_per_kwh_location
    from {{ ref('efficiency_breakdown') }} b
    join {{ ref('carbon_per_inference') }} c
      on c.date_day = b.date_day and c.deployment_id = b.deployment_id and c.model_id = b.model_id
),

with_baseline as (
    select
        d.*,
        avg(gpu_kwh_per_million_tokens) over w  as base_gpu_kwh_per_million_tokens,
        avg(carbon_gco2e_per_inference) over w  as base_carbon_gco2e_per_inference,
        avg(avg_utilization_gpu_pct) over w     as base_utilization_gpu_pct,
        avg(avg_batch_size) over w              as base_batch_size,
        avg(cache_hit_rate_pct) over w          as base_cache_hit_rate_pct,
        avg(avg_gco2e_per_kwh_location) over w  as base_gco2e_per_kwh_location,
        count(*) over w                         as baseline_days
    from days d
    window w as (partition by deployment_id, model_id order by date_day rows between 7 preceding and 1 preceding)
),

metrics as (
    select *, 'gpu_kwh_per_million_tokens' as metric, gpu_kwh_per_million_tokens as value,
           base_gpu_kwh_per_million_tokens as baseline, false as carbon_metric
    from with_baseline
    union all
    select *, 'carbon_gco2e_per_inference', carbon_gco2e_per_inference,
           base_carbon_gco2e_per_inference, true
    from with_baseline
),

scored as (
    select
        *,
        (value - baseline) * 100.0 / baseline as change_pct,
        -- adverse relative moves of each driver (positive = worse)
        {{ safe_divide('base_utilization_gpu_pct - avg_utilization_gpu_pct', 'base_utilization_gpu_pct') }} as utilization_drop,
        {{ safe_divide('base_batch_size - avg_batch_size', 'base_batch_size') }}                              as batch_size_drop,
        {{ safe_divide('base_cache_hit_rate_pct - cache_hit_rate_pct', 'base_cache_hit_rate_pct') }}          as cache_hit_rate_drop,
        case when carbon_metric then
            {{ safe_divide('avg_gco2e_per_kwh_location - base_gco2e_per_kwh_location', 'base_gco2e_per_kwh_location') }}
        end as grid_intensity_rise
    from metrics
    where baseline > 0 and value is not null
)

select
    date_day,
    deployment_id,
    model_id,
    metric,
    value,
    baseline,
    baseline_days,
    change_pct,
    case
        when greatest(coalesce(utilization_drop, 0), coalesce(batch_size_drop, 0),
                      coalesce(cache_hit_rate_drop, 0), coalesce(grid_intensity_rise, 0)) <= 0 then 'unexplained'
        when coalesce(grid_intensity_rise, 0) >= greatest(coalesce(utilization_drop, 0), coalesce(batch_size_drop, 0), coalesce(cache_hit_rate_drop, 0)) then 'grid_intensity'
        when coalesce(utilization_drop, 0) >= greatest(coalesce(batch_size_drop, 0), coalesce(cache_hit_rate_drop, 0)) then 'utilization'
        when coalesce(batch_size_drop, 0) >= coalesce(cache_hit_rate_drop, 0) then 'batch_size'
        else 'cache_hit_rate'
    end as likely_driver,
    utilization_drop * 100.0     as utilization_drop_pct,
    batch_size_drop * 100.0      as batch_size_drop_pct,
    cache_hit_rate_drop * 100.0  as cache_hit_rate_drop_pct,
    grid_intensity_rise * 100.0  as grid_intensity_rise_pct
from scored
where change_pct > {{ var('regression_threshold_pct') }}
  and baseline_days >= {{ var('regression_min_baseline_days') }}
  and {{ in_run_interval('date_day') }}

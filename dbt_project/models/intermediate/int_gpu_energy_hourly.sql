-- One row per GPU and UTC hour: measured GPU energy and how it was obtained (incremental by day).
-- The sample intervals (macro gpu_energy_intervals) are summed in the same query, not stored; the
-- GPU's name, UUID and mean utilization are read by the hour beside them (not through the window).
-- Never fully refreshed: raw samples older than the retention setting are gone, so the hours built
-- from them are kept; a run without dates rebuilds every day whose samples are still there.
{{ config(full_refresh=false, **daily_incremental(cluster_by=['gpu_key'])) }}
with energy as (
    select
        host,
        gpu_index,
        mig_instance,
        hour_utc,
        date_day,
        {{ stable_sum('gpu_energy_kwh') }}                      as gpu_energy_kwh,
        count(*)                                                as intervals,
        sum(interval_us - gap_us) / 1e6                         as measured_s,  -- integers: exact in any order
        sum(gap_us) / 1e6                                       as gap_s,
        -- a repeated sample (same GPU and time) makes an interval of 0 s; the ingestion keeps one copy
        sum(case when interval_us = 0 then 1 else 0 end)        as duplicate_samples,
        case
            when min(energy_method_code) = max(energy_method_code) then {{ energy_method_label('min(energy_method_code)') }}
            else 'mixed'
        end                                                     as energy_method
    from (
{{ gpu_energy_intervals(ref('stg_telemetry__gpu_samples')) }}
    ) intervals
    group by host, gpu_index, mig_instance, hour_utc, date_day
),

gpu_hours as (
    select
        host,
        gpu_index,
        mig_instance,
        {{ dbt.date_trunc('hour', 'sample_ts_utc') }}           as hour_utc,
        max(gpu_uuid)                                           as gpu_uuid,
        max(gpu_name)                                           as gpu_name,
        {{ stable_avg('utilization_gpu_pct') }}                 as avg_utilization_gpu_pct
    from {{ ref('stg_telemetry__gpu_samples') }}
    where {{ in_run_interval('sample_date', 'usage') }}
    group by 1, 2, 3, 4
)

select
    {{ gpu_key('e.host', 'e.gpu_index', 'e.mig_instance') }} as gpu_key,
    e.host,
    e.gpu_index,
    g.gpu_uuid,
    g.gpu_name,
    e.hour_utc,
    e.date_day,
    e.gpu_energy_kwh,
    e.intervals,
    e.measured_s,
    e.gap_s,
    g.avg_utilization_gpu_pct,
    e.energy_method,
    e.duplicate_samples
from energy e
join gpu_hours g
  on g.host is not distinct from e.host and g.gpu_index is not distinct from e.gpu_index
 and g.mig_instance is not distinct from e.mig_instance and g.hour_utc = e.hour_utc

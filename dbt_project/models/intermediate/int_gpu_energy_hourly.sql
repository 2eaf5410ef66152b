-- One row per GPU and UTC hour: measured GPU energy and how it was obtained (incremental by day).
-- The sample intervals (macro gpu_energy_intervals) are summed in the same query, not stored.
-- Never fully refreshed: raw samples older than the retention setting are gone, so the hours built
-- from them are kept; a run without dates rebuilds every day whose samples are still there.
{{ config(full_refresh=false, **daily_incremental(cluster_by=['gpu_key'])) }}
select
    gpu_key,
    host,
    gpu_index,
    max(gpu_uuid)                                              as gpu_uuid,
    max(gpu_name)                                              as gpu_name,
    hour_utc,
    date_day,
    {{ stable_sum('gpu_energy_kwh') }}                                        as gpu_energy_kwh,
    count(*)                                                   as intervals,
    {{ stable_sum('interval_s - gap_s') }}                                    as measured_s,
    {{ stable_sum('gap_s') }}                                                 as gap_s,
    {{ stable_avg('utilization_gpu_pct') }}                                   as avg_utilization_gpu_pct,
    case
        when min(energy_method) = max(energy_method) then min(energy_method)
        else 'mixed'
    end                                                        as energy_method
from (
{{ gpu_energy_intervals(ref('stg_telemetry__gpu_samples')) }}
) intervals
group by gpu_key, host, gpu_index, hour_utc, date_day

-- One row per GPU telemetry sample. A GPU is identified by host and index (and MIG instance).
select
    {{ gpu_key('host', 'gpu_index', 'mig_instance') }} as gpu_key,
    host,
    gpu_index,
    gpu_uuid,
    gpu_name,
    mig_instance,
    sample_ts_utc,
    sample_date,
    power_w,
    energy_counter_mj,
    utilization_gpu_pct,
    utilization_memory_pct,
    memory_used_mib,
    memory_total_mib,
    power_limit_w,
    temperature_c,
    -- lineage: the file (its path, format and load in stg_pipeline__loaded_files) and the line in it
    _file_id,
    _source_line
from {{ source('raw', 'gpu_telemetry_samples') }}

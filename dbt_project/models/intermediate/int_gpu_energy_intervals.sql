-- One row per GPU and sample interval (the per-sample detail behind int_gpu_energy_hourly). A view:
-- computed when queried, never stored, so the warehouse keeps the samples once (raw) and the energy
-- by the hour. The rule is the macro gpu_energy_intervals (macros/telemetry.sql). Filter on gpu_key
-- or host when querying it: over all retained samples it reads them all.
{{ config(materialized='view') }}
{{ gpu_energy_intervals(ref('stg_telemetry__gpu_samples')) }}

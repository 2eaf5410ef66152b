-- One row per GPU model name, with its reference specs (int_gpu_models).
{{ config(**table_layout(cluster_by=['hardware_id'])) }}
select * from {{ ref('int_gpu_models') }}

-- One row per GPU model name, with its reference specs (int_gpu_models).
select * from {{ ref('int_gpu_models') }}

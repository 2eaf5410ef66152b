{{ config(**daily_incremental(cluster_by=['deployment_id', 'model_id'])) }}

-- One row per UTC day x deployment x model.
-- gpu_wh_per_completed_task      = gpu_energy_kwh x 1000 / completed_tasks
-- facility_wh_per_completed_task = facility_energy_kwh x 1000 / completed_tasks
-- A task is the user-visible unit of work (requests sharing a task_id); it counts when one of its
-- requests says task_completed. Retries, failed requests and abandoned tasks spend energy that stays
-- in the numerator without adding a completed task, so they count against the KPI.
with daily as (
    select
        date_day, deployment_id, model_id,
        sum(requests)            as requests,
        sum(completed_tasks)     as completed_tasks,
        {{ stable_sum('gpu_energy_kwh') }}      as gpu_energy_kwh,
        {{ stable_sum('facility_energy_kwh') }} as facility_energy_kwh
    from {{ ref('inference_energy_fact') }}
    where is_allocated and {{ in_run_interval('date_day') }}
    group by date_day, deployment_id, model_id
)
select
    *,
    {{ per_thousand('gpu_energy_kwh', 'completed_tasks') }}       as gpu_wh_per_completed_task,
    {{ per_thousand('facility_energy_kwh', 'completed_tasks') }}  as facility_wh_per_completed_task,
    {{ safe_divide('requests', 'completed_tasks') }}              as requests_per_completed_task
from daily

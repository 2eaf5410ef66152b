-- One row per deployment and GPU reference (index or UUID) with its validity interval.
select
    deployment as deployment_id,
    model as model_id,
    project as owner_project_id,
    host,
    gpu_ref,
    valid_from_utc,
    valid_to_utc
from {{ source('raw', 'inventory_deployments') }}

-- One row per deployment and GPU reference (on-prem index or UUID) or cloud resource, with its validity.
select
    deployment as deployment_id,
    model as model_id,
    project as owner_project_id,
    host,
    gpu_ref,
    valid_from_utc,
    valid_to_utc,
    coalesce(provider, 'onprem') as provider,
    resource_ref
from {{ source('raw', 'inventory_deployments') }}

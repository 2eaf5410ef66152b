-- One row per site: the inventory's on-prem sites and the cloud regions deployments run in
-- ('aws/us-east-1', 'gcp/us-central1'), with the provider's PUE (seed cloud_providers).
select site_id, 'onprem' as provider, pue, grid_zone, timezone, cast(null as {{ dbt.type_string() }}) as region_code
from {{ ref('stg_inventory__sites') }}
union all
select distinct
    u.site_id, u.provider, p.pue, cast(null as {{ dbt.type_string() }}), 'UTC', u.region_code
from {{ ref('int_cloud_gpu_usage_hourly') }} u
join {{ ref('cloud_providers') }} p on p.provider = u.provider

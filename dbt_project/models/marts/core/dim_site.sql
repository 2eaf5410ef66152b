-- One row per site: on-prem sites and the cloud regions deployments run in.
select site_id, provider, pue, grid_zone, timezone, region_code from {{ ref('int_sites') }}

-- One row per site: on-prem sites and the cloud regions deployments run in.
{{ config(**table_layout(cluster_by=['site_id'])) }}
select site_id, provider, pue, grid_zone, timezone, region_code from {{ ref('int_sites') }}

-- One row per site.
select site_id, pue, grid_zone, timezone from {{ ref('stg_inventory__sites') }}

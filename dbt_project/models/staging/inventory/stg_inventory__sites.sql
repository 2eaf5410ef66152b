-- One row per site.
select site as site_id, pue, grid_zone, timezone from {{ source('raw', 'inventory_sites') }}

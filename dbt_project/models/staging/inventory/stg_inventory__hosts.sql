-- One row per host.
select host, site as site_id, gpu_model as gpu_name, gpu_count from {{ source('raw', 'inventory_hosts') }}

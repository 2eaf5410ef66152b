-- One row per model described in the inventory.
select model as model_id, family, parameters_billion, tier from {{ source('raw', 'inventory_models') }}

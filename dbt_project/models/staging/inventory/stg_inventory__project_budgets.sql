-- One row per project and budget week; iso_week '*' is the project's default weekly budget.
select project as project_id, team, iso_week, carbon_budget_kgco2e from {{ source('raw', 'inventory_projects') }}

-- One row per project: the inventory's, those seen in requests, and 'unallocated'.
{{ config(**table_layout(cluster_by=['project_id'])) }}
with listed as (
    select project_id, max(team) as team,
           max(case when period_type = 'week' and budget_period = '*' then carbon_budget_kgco2e end) as weekly_carbon_budget_kgco2e,
           max(case when period_type = 'month' and budget_period = '*' then carbon_budget_kgco2e end) as monthly_carbon_budget_kgco2e
    from {{ ref('stg_inventory__project_budgets') }}
    group by project_id
),
seen as (
    select project_id from listed
    union distinct
    select project_id from {{ ref('int_requests_hourly') }}
    union distinct
    select owner_project_id from {{ ref('stg_inventory__deployment_gpus') }}
    union distinct
    select 'unallocated'
)
select s.project_id, l.team, l.weekly_carbon_budget_kgco2e, l.monthly_carbon_budget_kgco2e, l.project_id is not null as is_in_inventory
from seen s
left join listed l on l.project_id = s.project_id

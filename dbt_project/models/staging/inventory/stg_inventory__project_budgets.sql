-- One row per project, budget period type (week, month) and period; budget_period '*' is the
-- project's default for every period of that type.
select project as project_id, team, period_type, budget_period, carbon_budget_kgco2e
from {{ source('raw', 'inventory_projects') }}

{{ config(materialized='view', schema='reporting') }}

-- Reference data, edited here by operators: one row per project with its daily inference cost
-- budget (USD per UTC day: hardware amortization + electricity + attributed cloud charges, as in
-- cost_usd of the marts). A project without a row is reported as no_budget, never as a budget of
-- zero (the carbon budgets' rule). Weekly carbon budgets live in the fleet inventory, not here.
-- SELECT ... UNION ALL rather than VALUES because BigQuery has no VALUES lists. Demo fleet values.
select 'search' as project_id, cast(400 as {{ type_double() }}) as daily_cost_budget_usd, 'discovery' as budget_owner_team
union all select 'support-bot', 75.0, 'customer-care'
union all select 'code-assist', 30.0, 'developer-platform'

{{ config(materialized='view', schema='reporting') }}

-- Reference data, edited here by operators: one row per model, with how much the business depends
-- on it (1 = experimental .. 5 = business-critical). model_id '*' is the default for every model
-- without a row of its own (as in the electricity_prices seed), so a new model lands in the
-- portfolio quadrant at once, flagged criticality_source = 'default'.
-- A view rather than a seed so that the reporting layer is self-contained; SELECT ... UNION ALL
-- rather than VALUES because BigQuery has no VALUES lists. The rows below describe the demo fleet.
with rows_ as (
    select '*' as model_id, 3 as criticality_score, 'default for models without a row: edit me' as criticality_reason
    union all select 'llama-3.1-70b-instruct', 5, 'customer-facing search answers'
    union all select 'llama-3.1-8b-instruct', 4, 'support chatbot first response'
    union all select 'qwen2.5-coder-14b-instruct', 3, 'internal developer code assistant'
    union all select 'mistral-small-24b-instruct', 2, 'batch summaries of closed support tickets'
)
select
    model_id,
    criticality_score,
    case criticality_score
        when 5 then 'business-critical'
        when 4 then 'high'
        when 3 then 'medium'
        when 2 then 'low'
        else 'experimental'
    end as criticality_label,
    criticality_reason
from rows_

-- One row per day and Cost Explorer group (the configured pair, default service x deployment tag).
select
    usage_date,
    is_estimated,
    group1_key, group1_value,
    group2_key, group2_value,
    unblended_cost_usd,
    net_amortized_cost_usd,
    usage_quantity
from {{ source('raw', 'aws_ce_costs_daily') }}

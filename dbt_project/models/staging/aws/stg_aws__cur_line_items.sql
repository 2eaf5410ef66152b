-- One row per CUR line item. Costs are in currency_code (USD for most accounts).
select
    billing_period,
    line_item_usage_start_date                         as usage_start_utc,
    line_item_usage_end_date                           as usage_end_utc,
    line_item_product_code                             as product_code,
    line_item_usage_type                               as usage_type,
    line_item_operation                                as operation,
    line_item_resource_id                              as resource_id,
    line_item_line_item_type                           as line_item_type,
    line_item_usage_account_id                         as account_id,
    line_item_currency_code                            as currency_code,
    line_item_usage_amount                             as usage_amount,
    line_item_unblended_cost                           as unblended_cost,
    coalesce(line_item_net_unblended_cost, line_item_unblended_cost) as net_unblended_cost,
    product_instance_type                              as instance_type,
    product_region_code                                as region_code,
    pricing_unit,
    resource_tags,
    {{ json_text('resource_tags', 'user:deployment') }} as deployment_tag,
    _source_file,
    _source_line
from {{ source('raw', 'aws_cur_line_items') }}

-- One row per CUR line item in FOCUS column names, attributed to a deployment: by its
-- `user:deployment` tag first, then by a resource id the inventory lists for an AWS deployment.
-- Unattributed spend keeps deployment_id NULL: kept and visible in int_charges, never dropped.
-- Incremental by billing period (the CUR's own partition): a run rebuilds the periods its interval
-- touches; the attribution of a period is that of the inventory when the period was last rebuilt.
{{ config(**monthly_incremental()) }}
with lines as (
    select * from {{ ref('stg_aws__cur_line_items') }}
    where {{ in_run_months('billing_period', kind='billing', label=true) }}
),
attributed as (
    {{ attributed_to_deployments('lines', 'aws', tag_column='deployment_tag', resource_column='resource_id',
                                 by_tag='tag', by_resource='resource_id') }}
)
select
    {{ dbt.hash(dbt.concat(["l.billing_period", "'|'", "l._source_file", "'|'", "cast(l._source_line as " ~ dbt.type_string() ~ ")"])) }} as charge_id,
    cast({{ dbt.concat(["l.billing_period", "'-01'"]) }} as date) as billing_month_start,
    'aws_cur'                                                as charge_source,
    l.deployment_id,
    l.attributed_by,
    l.account_id,
    'AWS'                                                    as ProviderName,
    l.product_code                                           as ServiceName,
    case
        when l.line_item_type in ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') then 'Usage'
        when l.line_item_type = 'Tax' then 'Tax'
        when l.line_item_type in ('Credit', 'Refund', 'BundledDiscount', 'SavingsPlanNegation') then 'Credit'
        when l.line_item_type in ('Fee', 'RIFee', 'SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee') then 'Purchase'
        else 'Adjustment'
    end                                                      as ChargeCategory,
    l.usage_start_utc                                        as ChargePeriodStart,
    l.usage_end_utc                                          as ChargePeriodEnd,
    l.unblended_cost                                         as BilledCost,
    l.net_unblended_cost                                     as EffectiveCost,
    l.currency_code                                          as BillingCurrency,
    l.region_code                                            as RegionId,
    l.resource_id                                            as ResourceId,
    l.usage_amount                                           as ConsumedQuantity,
    l.pricing_unit                                           as ConsumedUnit,
    l.instance_type,
    l.usage_type
from attributed l

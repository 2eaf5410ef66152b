-- One row per CUR line item in FOCUS column names, attributed to a deployment: by its
-- `user:deployment` tag first, then by a resource id the inventory lists for an AWS deployment.
-- Unattributed spend keeps deployment_id NULL: kept and visible in int_charges, never dropped.
with lines as (select * from {{ ref('stg_aws__cur_line_items') }}),
listed as (
    select distinct deployment_id, resource_ref
    from {{ ref('stg_inventory__deployment_gpus') }}
    where provider = 'aws' and resource_ref is not null
),
known as (
    select distinct deployment_id from {{ ref('stg_inventory__deployment_gpus') }} where provider = 'aws'
)
select
    {{ dbt.hash(dbt.concat(["l.billing_period", "'|'", "l._source_file", "'|'", "cast(l._source_line as " ~ dbt.type_string() ~ ")"])) }} as charge_id,
    'aws_cur'                                                as charge_source,
    coalesce(k.deployment_id, r.deployment_id)               as deployment_id,
    case when k.deployment_id is not null then 'tag'
         when r.deployment_id is not null then 'resource_id' end as attributed_by,
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
from lines l
left join known k on k.deployment_id = l.deployment_tag
left join listed r on r.resource_ref = l.resource_id

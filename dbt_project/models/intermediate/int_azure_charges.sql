-- One row per Azure usage-detail row in FOCUS column names, attributed to a deployment: by its
-- `deployment` tag first, then by a resource id the inventory lists for an Azure deployment
-- (compared case-insensitively: Azure writes ARM ids in varying case). Unattributed spend keeps
-- deployment_id NULL: kept and visible in int_charges, never dropped.
--
-- Three routes can deliver the same charges: ActualCost exports, AmortizedCost exports and the
-- Consumption API. Per billing month and subscription one route is used, the first present of
-- export_actual, export_amortized, consumption_api, so a charge is never counted twice. FocusCost
-- exports of a month with rows here are left out in int_charges.
--
-- Costs: USD where Azure gives the USD amount (costInUsd, or a USD billing currency), so an
-- agreement billed in another currency still counts in the USD KPIs; else the billing currency.
-- BilledCost = EffectiveCost = the row's cost: actual cost on the actual routes, amortized cost on
-- the amortized route (which is how it is billed over time, the FOCUS EffectiveCost).
-- GPU VMs of the sizes in seed azure_gpu_vm_sizes carry their usage: instance_hours = quantity x
-- hours per unit of measure ('10 Hours'), gpu_hours = instance_hours x GPUs per VM (a fraction for
-- partial-GPU sizes). Unused reservation rows are not usage.
-- Incremental by billing month (the route is chosen per month): a run rebuilds the months its
-- interval touches; the attribution of a month is that of the inventory when it was last rebuilt.
{{ config(**monthly_incremental()) }}
with lines as (
    -- the same columns in the same order (both staging models are macro azure_usage_columns)
    select * from (
        select * from {{ ref('stg_azure__cost_details') }}
        union all
        select * from {{ ref('stg_azure__usage_details') }}
    ) l
    where {{ in_run_months('billing_month', kind='billing', label=true) }}
),
ranked as (
    select
        *,
        case origin when 'export_actual' then 1 when 'export_amortized' then 2 else 3 end as origin_rank
    from lines
),
chosen as (
    select billing_month, subscription_id, min(origin_rank) as origin_rank
    from ranked
    group by billing_month, subscription_id
),
attributed as (
    {{ attributed_to_deployments('ranked', 'azure', tag_column='deployment_tag', resource_column='resource_id',
                                 by_tag='tag', by_resource='resource_id', case_insensitive=true) }}
),
sizes as (
    select lower(vm_size) as vm_size_key, gpu_name, gpu_count from {{ ref('azure_gpu_vm_sizes') }}
),
charges as (
    select
        l.*,
        coalesce(a.region_id, l.region_key)                           as region_id,
        s.gpu_name,
        s.gpu_count,
        case
            when s.vm_size_key is not null and l.charge_type = 'Usage' and l.hours_per_unit is not null
            then l.quantity * l.hours_per_unit
            else 0
        end                                                           as instance_hours
    from attributed l
    join chosen c on c.billing_month = l.billing_month and c.origin_rank = l.origin_rank
        and (c.subscription_id = l.subscription_id or (c.subscription_id is null and l.subscription_id is null))
    left join {{ ref('azure_region_aliases') }} a on a.alias = l.region_key
    left join sizes s on s.vm_size_key = lower(l.vm_size)
)
select
    {{ dbt.hash(dbt.concat(["origin", "'|'", "charge_key"])) }}     as charge_id,
    cast({{ dbt.concat(["billing_month", "'-01'"]) }} as date)       as billing_month_start,
    'azure_' || origin                                               as charge_source,
    deployment_id,
    attributed_by,
    subscription_id                                                  as account_id,
    billing_account_id,
    'Microsoft'                                                      as ProviderName,
    coalesce(meter_category, consumed_service)                       as ServiceName,
    case
        when charge_type in ('Usage', 'UnusedReservation', 'UnusedSavingsPlan') then 'Usage'
        when charge_type = 'Purchase' then 'Purchase'
        when charge_type = 'Refund' then 'Credit'
        when charge_type = 'Tax' then 'Tax'
        else 'Adjustment'
    end                                                              as ChargeCategory,
    charge_type,
    cast(usage_date as {{ dbt.type_timestamp() }})                   as ChargePeriodStart,
    cast({{ dbt.dateadd('day', 1, 'usage_date') }} as {{ dbt.type_timestamp() }}) as ChargePeriodEnd,
    coalesce(cost_usd, cost_billing_currency)                        as BilledCost,
    coalesce(cost_usd, cost_billing_currency)                        as EffectiveCost,
    case when cost_usd is not null then 'USD' else billing_currency end as BillingCurrency,
    region_id                                                        as RegionId,
    resource_id                                                      as ResourceId,
    quantity                                                         as ConsumedQuantity,
    unit_of_measure                                                  as ConsumedUnit,
    meter_category,
    meter_name,
    vm_size,
    gpu_name,
    instance_hours,
    instance_hours * coalesce(gpu_count, 0)                          as gpu_hours
from charges

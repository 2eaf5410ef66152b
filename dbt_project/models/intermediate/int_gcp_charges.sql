-- One row per GCP Cloud Billing line in FOCUS column names, attributed to a deployment: by its
-- `deployment` label first, then by a resource name the inventory lists for a GCP deployment.
-- Unattributed spend keeps deployment_id NULL: kept and visible in int_charges, never dropped.
-- GPU VMs of the machine types in seed gcp_gpu_machine_types (A2, A3, A4, G2) carry their usage:
-- a VM's vCPU SKU rows ('... Instance Core ...', usage in vCPU-seconds) give its instance-hours =
-- vCPU-seconds / 3600 / vCPUs (the compute.googleapis.com/cores label, else the seed), and
-- gpu_hours = instance_hours x GPUs per VM. Its other rows (RAM, the GPUs' own SKUs) carry cost only,
-- so no VM-hour is counted twice.
-- Incremental by invoice month (the export's own partition): a run rebuilds the months its interval
-- touches; the attribution of a month is that of the inventory when the month was last rebuilt.
{{ config(**monthly_incremental()) }}
with lines as (
    select * from {{ ref('stg_gcp__billing_export') }}
    where {{ in_run_months('invoice_month', kind='billing', label=true) }}
),
machines as (select * from {{ ref('gcp_gpu_machine_types') }}),
attributed as (
    {{ attributed_to_deployments('lines', 'gcp', tag_column='deployment_label', resource_column='resource_name',
                                 by_tag='label', by_resource='resource_name') }}
),
charges as (
    select
        l.*,
        m.gpu_name,
        case
            when m.machine_type is not null and l.cost_type = 'regular' and l.usage_unit = 'seconds'
                 and l.sku_description like '%Instance Core%'
            then l.usage_amount / 3600.0 / coalesce(l.machine_vcpus, m.vcpus)
            else 0
        end                                                      as instance_hours,
        m.gpu_count
    from attributed l
    left join machines m on m.machine_type = l.machine_type
)
select
    {{ dbt.hash(dbt.concat(["invoice_month", "'|'", "_source_file", "'|'", "cast(_source_line as " ~ dbt.type_string() ~ ")"])) }} as charge_id,
    cast({{ dbt.concat(["invoice_month", "'-01'"]) }} as date) as billing_month_start,
    'gcp_billing'                                            as charge_source,
    deployment_id,
    attributed_by,
    project_id                                               as account_id,
    billing_account_id,
    'Google Cloud'                                           as ProviderName,
    service_description                                      as ServiceName,
    service_id,
    sku_description,
    case cost_type
        when 'regular' then 'Usage'
        when 'tax' then 'Tax'
        else 'Adjustment'
    end                                                      as ChargeCategory,
    usage_start_utc                                          as ChargePeriodStart,
    usage_end_utc                                            as ChargePeriodEnd,
    cost                                                     as BilledCost,
    net_cost                                                 as EffectiveCost,
    currency                                                 as BillingCurrency,
    region                                                   as RegionId,
    location,
    resource_name                                            as ResourceId,
    usage_amount_in_pricing_units                            as ConsumedQuantity,
    usage_pricing_unit                                       as ConsumedUnit,
    machine_type,
    gpu_name,
    instance_hours,
    instance_hours * coalesce(gpu_count, 0)                  as gpu_hours
from charges

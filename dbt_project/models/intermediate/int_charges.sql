-- One row per charge, every source in FOCUS column names (FinOps Open Cost and Usage Specification),
-- with our attribution (deployment_id, NULL when unattributed: kept and visible, never dropped).
-- Sources: on-prem (int_onprem_charges), AWS CUR (int_aws_charges), GCP Cloud Billing
-- (int_gcp_charges), Azure usage details (int_azure_charges), and FOCUS exports of any provider (stg_focus__charges, attributed by their
-- `deployment` tag). A FOCUS row is left out when the same provider's native export is loaded for
-- that month, so a charge is never counted twice.
with native_months as (
    select distinct ProviderName, {{ month_label('ChargePeriodStart') }} as billing_period
    from {{ ref('int_aws_charges') }}
    union distinct
    select distinct ProviderName, {{ month_label('ChargePeriodStart') }}
    from {{ ref('int_gcp_charges') }}
    union distinct
    select distinct ProviderName, {{ month_label('ChargePeriodStart') }}
    from {{ ref('int_azure_charges') }}
),
known as (select distinct deployment_id from {{ ref('stg_inventory__deployment_gpus') }})
select
    {{ dbt.hash(dbt.concat(["charge_source", "'|'", "deployment_id", "'|'", "cast(ChargePeriodStart as " ~ dbt.type_string() ~ ")"])) }} as charge_id,
    charge_source,
    deployment_id,
    ProviderName, ServiceName, ChargeCategory, ChargePeriodStart, ChargePeriodEnd,
    BilledCost, EffectiveCost, BillingCurrency, RegionId, ResourceId, ConsumedQuantity, ConsumedUnit
from {{ ref('int_onprem_charges') }}
union all
select
    charge_id, charge_source, deployment_id,
    ProviderName, ServiceName, ChargeCategory, ChargePeriodStart, ChargePeriodEnd,
    BilledCost, EffectiveCost, BillingCurrency, RegionId, ResourceId, ConsumedQuantity, ConsumedUnit
from {{ ref('int_aws_charges') }}
union all
select
    charge_id, charge_source, deployment_id,
    ProviderName, ServiceName, ChargeCategory, ChargePeriodStart, ChargePeriodEnd,
    BilledCost, EffectiveCost, BillingCurrency, RegionId, ResourceId, ConsumedQuantity, ConsumedUnit
from {{ ref('int_gcp_charges') }}
union all
select
    charge_id, charge_source, deployment_id,
    ProviderName, ServiceName, ChargeCategory, ChargePeriodStart, ChargePeriodEnd,
    BilledCost, EffectiveCost, BillingCurrency, RegionId, ResourceId, ConsumedQuantity, ConsumedUnit
from {{ ref('int_azure_charges') }}
union all
select
    {{ dbt.hash(dbt.concat(["f.billing_period", "'|'", "f._source_file", "'|'", "cast(f._source_line as " ~ dbt.type_string() ~ ")"])) }},
    'focus', k.deployment_id,
    f.ProviderName, f.ServiceName, f.ChargeCategory, f.ChargePeriodStart, f.ChargePeriodEnd,
    f.BilledCost, f.EffectiveCost, f.BillingCurrency, f.RegionId, f.ResourceId, f.ConsumedQuantity, f.ConsumedUnit
from {{ ref('stg_focus__charges') }} f
left join known k on k.deployment_id = f.deployment_tag
where not exists (
    select 1 from native_months n
    where n.ProviderName = f.ProviderName and n.billing_period = f.billing_period
)

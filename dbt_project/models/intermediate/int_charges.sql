-- One row per charge, every source in FOCUS column names (FinOps Open Cost and Usage Specification),
-- with our attribution (deployment_id, NULL when unattributed: kept and visible, never dropped).
-- Sources: on-prem (int_onprem_charges), AWS CUR (int_aws_charges). More clouds union in here.
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

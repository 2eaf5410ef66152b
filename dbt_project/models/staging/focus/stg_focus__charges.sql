-- One row per FOCUS charge (FOCUS 1.0+ export of any provider), in FOCUS column names: the FOCUS
-- exports of raw.focus_charges and Azure's FocusCost exports (raw.azure_focus_charges, the same
-- columns, loaded by the Azure DAG).
{%- for table in ['focus_charges', 'azure_focus_charges'] %}
{% if not loop.first %}union all
{% endif -%}
select
    billing_period,
    billed_cost                 as BilledCost,
    effective_cost              as EffectiveCost,
    list_cost                   as ListCost,
    billing_currency            as BillingCurrency,
    charge_period_start         as ChargePeriodStart,
    charge_period_end           as ChargePeriodEnd,
    coalesce(charge_category, 'Usage') as ChargeCategory,
    provider_name               as ProviderName,
    service_name                as ServiceName,
    region_id                   as RegionId,
    resource_id                 as ResourceId,
    consumed_quantity           as ConsumedQuantity,
    consumed_unit               as ConsumedUnit,
    sub_account_id              as SubAccountId,
    tags                        as Tags,
    {{ json_text('tags', 'deployment') }} as deployment_tag,
    _source_file,
    _source_line
from {{ source('raw', table) }}
{%- endfor %}

-- One row per charge, every source in FOCUS column names (FinOps Open Cost and Usage Specification),
-- with our attribution (deployment_id, NULL when unattributed: kept and visible, never dropped).
-- Sources: on-prem (int_onprem_charges), the providers' native exports (int_aws_charges: AWS CUR,
-- int_gcp_charges: GCP Cloud Billing, int_azure_charges: Azure usage details), and FOCUS exports of
-- any provider (stg_focus__charges, attributed by their `deployment` tag). A FOCUS row is left out
-- when the same provider's native export is loaded for that month, so a charge is never counted twice.
-- A view, not a table: every source is already an incremental table of its own (on-prem by the month
-- of the hour, the native exports by billing period), so storing the union again would only copy
-- them (5 M rows for a month of a large CUR, every day the month's CUR is delivered again;
-- docs/benchmarks.md, round 8). A filter on billing_month_start reaches each source's own key, and
-- the FOCUS rows left out are decided against the native months as loaded now.
-- billing_month_start: the billing period of a native or FOCUS export, the month of the hour for on-prem.
{{ config(materialized='view') }}
{%- set native = ['int_aws_charges', 'int_gcp_charges', 'int_azure_charges'] %}
{%- set focus_columns = 'ProviderName, ServiceName, ChargeCategory, ChargePeriodStart, ChargePeriodEnd, BilledCost, EffectiveCost, '
                        ~ 'BillingCurrency, RegionId, ResourceId, ConsumedQuantity, ConsumedUnit' %}
with focus as (
    select *, cast({{ dbt.concat(["billing_period", "'-01'"]) }} as date) as billing_month_start
    from {{ ref('stg_focus__charges') }}
),
-- the months of a native export, looked up only for the months FOCUS rows have (none: no scan of
-- the native tables, which would grow with every month kept)
native_months as (
    {%- for model in native %}
    {% if not loop.first %}union distinct
    {% endif -%}
    select distinct ProviderName, billing_month_start
    from {{ ref(model) }}
    where billing_month_start in (select billing_month_start from focus)
    {%- endfor %}
),
known as (select distinct deployment_id from {{ ref('stg_inventory__deployment_gpus') }})
select
    {{ dbt.hash(dbt.concat(["charge_source", "'|'", "deployment_id", "'|'", "cast(ChargePeriodStart as " ~ dbt.type_string() ~ ")"])) }} as charge_id,
    billing_month_start,
    charge_source,
    deployment_id,
    {{ focus_columns }}
from {{ ref('int_onprem_charges') }}
{%- for model in native %}
union all
select charge_id, billing_month_start, charge_source, deployment_id, {{ focus_columns }}
from {{ ref(model) }}
{%- endfor %}
union all
select
    {{ dbt.hash(dbt.concat(["f.billing_period", "'|'", "f._source_file", "'|'", "cast(f._source_line as " ~ dbt.type_string() ~ ")"])) }},
    f.billing_month_start, 'focus', k.deployment_id,
    f.ProviderName, f.ServiceName, f.ChargeCategory, f.ChargePeriodStart, f.ChargePeriodEnd,
    f.BilledCost, f.EffectiveCost, f.BillingCurrency, f.RegionId, f.ResourceId, f.ConsumedQuantity, f.ConsumedUnit
from focus f
left join known k on k.deployment_id = f.deployment_tag
where not exists (
    select 1 from native_months n
    where n.ProviderName = f.ProviderName and n.billing_month_start = f.billing_month_start
)

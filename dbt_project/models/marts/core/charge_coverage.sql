-- One row per provider x billing month x currency x charge source: how much of the spend the KPIs see.
-- cost                  = sum(EffectiveCost) of the month's charges, in billing_currency
-- attributed_cost       = the part attributed to a deployment (tag, label or resource id)
-- unattributed_cost     = cost - attributed_cost: kept in int_charges, in no deployment's KPIs
-- attributed_share_pct  = attributed_cost / cost x 100 (NULL when cost is 0)
-- in_usd_kpis           = billing_currency is USD: only USD charges enter the USD cost KPIs
--                         (cost_per_1k_inferences, the fact's cost columns); another currency is
--                         shown here rather than converted at a rate we would have to invent.
-- Incremental by the month of the usage (usage_month_start, billing_month its label): a run rebuilds
-- the months whose charges it rebuilt and the month before them.
{{ config(**monthly_incremental('usage_month_start', cluster_by=['provider_name'])) }}
with charges as (
    select
        ProviderName                                   as provider_name,
        {{ month_label('ChargePeriodStart') }}         as billing_month,
        {{ month_start('ChargePeriodStart') }}         as usage_month_start,
        BillingCurrency                                as billing_currency,
        charge_source,
        deployment_id,
        EffectiveCost
    from {{ ref('int_charges') }}
    where {{ in_run_months_of('ChargePeriodStart', widen_months=1, kind='charges') }}
)
select
    provider_name,
    billing_month,
    usage_month_start,
    billing_currency,
    charge_source,
    count(*)                                                                           as charges,
    {{ stable_sum('EffectiveCost') }}                                                  as cost,
    {{ stable_sum('case when deployment_id is not null then EffectiveCost else 0 end') }} as attributed_cost,
    {{ stable_sum('case when deployment_id is null then EffectiveCost else 0 end') }}     as unattributed_cost,
    {{ safe_divide(stable_sum('case when deployment_id is not null then EffectiveCost else 0 end') ~ ' * 100.0',
                   stable_sum('EffectiveCost')) }}                                     as attributed_share_pct,
    coalesce(billing_currency = 'USD', false)                                          as in_usd_kpis
from charges
group by provider_name, billing_month, usage_month_start, billing_currency, charge_source

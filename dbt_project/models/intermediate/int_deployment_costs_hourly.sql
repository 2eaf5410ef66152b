-- One row per deployment and UTC hour: the effective cost (USD) of the charges attributed to it.
-- A charge is booked in the hour its charge period starts (on-prem and CUR usage are hourly; a daily
-- or monthly charge lands in its first hour). Charges in another currency than USD are left out of
-- these USD sums and stay visible in int_charges.
-- Incremental by the month of the hour (usage_month_start): a run rebuilds the months whose charges
-- it rebuilt and the month before them (a billing month can hold the previous month's usage).
{{ config(**monthly_incremental('usage_month_start', cluster_by=['deployment_id'])) }}
with charges as (
    select * from {{ ref('int_charges') }}
    where deployment_id is not null and BillingCurrency = 'USD'
      and {{ in_run_months(month_start('ChargePeriodStart'), widen_months=1, kind='charges') }}
)
select
    deployment_id,
    {{ dbt.date_trunc('hour', 'ChargePeriodStart') }}                  as hour_utc,
    {{ month_start('ChargePeriodStart') }}                             as usage_month_start,
    {{ stable_sum("case when charge_source = 'onprem_hardware' then EffectiveCost else 0 end") }}    as hardware_cost_usd,
    {{ stable_sum("case when charge_source = 'onprem_electricity' then EffectiveCost else 0 end") }} as energy_cost_usd,
    {{ stable_sum("case when charge_source not like 'onprem%' then EffectiveCost else 0 end") }}     as cloud_cost_usd,
    {{ stable_sum('EffectiveCost') }}                                                 as cost_usd
from charges
group by 1, 2, 3

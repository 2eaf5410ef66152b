-- One row per deployment and UTC hour: the effective cost (USD) of the charges attributed to it.
-- A charge is spread over the hours of its charge period by the part of the period in each
-- (macro expand_to_hours): on-prem and hourly CUR lines stay in their hour, a daily Azure charge or
-- a daily-granularity CUR line is a 24th in each hour of its day, as its GPU-hours are
-- (int_cloud_gpu_usage_hourly). Charges in another currency than USD are left out of these USD sums
-- and stay visible in int_charges.
-- Incremental by the month of the hour (usage_month_start): a run rebuilds the months whose charges
-- it rebuilt and the month before them (a billing month can hold the previous month's usage).
{{ config(**monthly_incremental('usage_month_start', cluster_by=['deployment_id'])) }}
-- the charges that start in a rebuilt month or the month before it: a period that crosses a month's
-- start (a month-long one begun mid-month) has hours in both
with charges as (
    select * from {{ ref('int_charges') }}
    where deployment_id is not null and BillingCurrency = 'USD'
      and {{ in_run_months_of('ChargePeriodStart', widen_months=2, kind='charges') }}
),

hourly as (
{{ expand_to_hours('charges', 'ChargePeriodStart', 'ChargePeriodEnd', ['deployment_id', 'charge_source', 'EffectiveCost']) }}
)

select
    deployment_id,
    hour_utc,
    {{ month_start('hour_utc') }}                                      as usage_month_start,
    {{ stable_sum("case when charge_source = 'onprem_hardware' then EffectiveCost * hour_share else 0 end") }}    as hardware_cost_usd,
    {{ stable_sum("case when charge_source = 'onprem_electricity' then EffectiveCost * hour_share else 0 end") }} as energy_cost_usd,
    {{ stable_sum("case when charge_source not like 'onprem%' then EffectiveCost * hour_share else 0 end") }}     as cloud_cost_usd,
    {{ stable_sum('EffectiveCost * hour_share') }}                                                 as cost_usd
from hourly
-- only the rebuilt months' hours: a rebuilt month replaces all of its rows, and an hour of another
-- month is left to the run that rebuilds that month
where {{ in_run_months(month_start('hour_utc'), widen_months=1, kind='charges') }}
group by 1, 2, 3

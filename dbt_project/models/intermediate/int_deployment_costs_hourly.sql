-- One row per deployment and UTC hour: the effective cost (USD) of the charges attributed to it.
-- Every charge here is hourly today (on-prem); a source with longer charge periods spreads them to
-- hours before it unions into int_charges.
with charges as (
    select * from {{ ref('int_charges') }} where deployment_id is not null
)
select
    deployment_id,
    ChargePeriodStart                                                  as hour_utc,
    sum(case when charge_source = 'onprem_hardware' then EffectiveCost else 0 end)    as hardware_cost_usd,
    sum(case when charge_source = 'onprem_electricity' then EffectiveCost else 0 end) as energy_cost_usd,
    sum(case when charge_source not like 'onprem%' then EffectiveCost else 0 end)     as cloud_cost_usd,
    sum(EffectiveCost)                                                 as cost_usd
from charges
group by deployment_id, ChargePeriodStart

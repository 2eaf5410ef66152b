-- One row per deployment, UTC hour and on-prem charge kind (hardware amortization, electricity),
-- in FOCUS column names so that it unions with the clouds' charges in int_charges.
--   hardware:    GPU-hours x amortized_usd_per_gpu_hour of the GPU model (dim_hardware)
--   electricity: GPU energy x PUE x the zone's price (seed electricity_prices, '*' as default)
-- Incremental by the month of the hour (billing_month_start, the key int_charges filters on for every
-- source), as the cloud charges are by billing period: a run prices the months of its days, so its
-- cost does not grow with the months kept. A changed price or amortization reaches the months built
-- after it (a full refresh re-prices all of them), as it reaches the fact.
{{ config(**monthly_incremental()) }}
with energy as (
    select e.*, s.pue, s.grid_zone
    from {{ ref('int_deployment_energy_hourly') }} e
    join {{ ref('stg_inventory__sites') }} s on s.site_id = e.site_id
    where {{ in_run_months_of('e.hour_utc', kind='charges') }}
),
prices as (select * from {{ ref('electricity_prices') }}),
hardware as (select * from {{ ref('int_gpu_models') }}),
priced as (
    select
        e.deployment_id, e.hour_utc, {{ month_start('e.date_day') }} as billing_month_start, e.site_id, e.host,
        e.gpu_hours * h.amortized_usd_per_gpu_hour                           as hardware_usd,
        e.gpu_energy_kwh * e.pue                                              as facility_energy_kwh,
        e.gpu_energy_kwh * e.pue * coalesce(p.usd_per_kwh, dflt.usd_per_kwh)  as electricity_usd,
        e.gpu_hours
    from energy e
    left join hardware h on h.hardware_id = e.gpu_name
    left join prices p on p.grid_zone = e.grid_zone
    cross join (select usd_per_kwh from prices where grid_zone = '*') dflt
)
select
    deployment_id, hour_utc, billing_month_start, 'OnPrem' as ProviderName, 'GPU hardware amortization' as ServiceName,
    'Usage' as ChargeCategory, hour_utc as ChargePeriodStart, {{ timestamp_add_hours('hour_utc', 1) }} as ChargePeriodEnd,
    hardware_usd as BilledCost, hardware_usd as EffectiveCost, 'USD' as BillingCurrency,
    site_id as RegionId, host as ResourceId, gpu_hours as ConsumedQuantity, 'GPU-Hours' as ConsumedUnit,
    'onprem_hardware' as charge_source
from priced
union all
select
    deployment_id, hour_utc, billing_month_start, 'OnPrem', 'Electricity',
    'Usage', hour_utc, {{ timestamp_add_hours('hour_utc', 1) }},
    electricity_usd, electricity_usd, 'USD',
    site_id, host, facility_energy_kwh, 'kWh',
    'onprem_electricity'
from priced

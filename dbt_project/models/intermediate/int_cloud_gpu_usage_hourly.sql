-- One row per cloud deployment and UTC hour it ran GPU instances, with GPU energy ESTIMATED from a
-- power model (no telemetry): GPU-hours x (idle_w + utilization x (tdp_w - idle_w)) / 1000, the
-- Cloud Carbon Footprint method, with var cloud_gpu_utilization_pct (default 50 %) and the GPU
-- model's idle and board power from gpu_specs (cited there). Instance-hours come from the CUR's
-- BoxUsage line items of GPU instance types (seed aws_gpu_instances).
with usage as (
    select
        c.deployment_id, c.account_id, c.RegionId as region_code,
        {{ dbt.date_trunc('hour', 'c.ChargePeriodStart') }} as hour_utc,
        i.gpu_name,
        sum(c.ConsumedQuantity)                       as instance_hours,
        sum(c.ConsumedQuantity * i.gpu_count)         as gpu_hours
    from {{ ref('int_aws_charges') }} c
    join {{ ref('aws_gpu_instances') }} i on i.instance_type = c.instance_type
    where c.deployment_id is not null and c.usage_type like '%BoxUsage%' and c.ChargeCategory = 'Usage'
    group by 1, 2, 3, 4, 5
),
specs as (select * from {{ ref('int_gpu_models') }})
select
    u.deployment_id,
    u.hour_utc,
    'aws'                                                   as provider,
    'aws/' || u.region_code                                 as site_id,
    u.account_id,
    u.gpu_name,
    u.instance_hours,
    u.gpu_hours,
    {{ var('cloud_gpu_utilization_pct') }}                  as assumed_utilization_gpu_pct,
    u.gpu_hours * (s.idle_w + {{ var('cloud_gpu_utilization_pct') }} / 100.0 * (s.tdp_w - s.idle_w)) / 1000.0 as gpu_energy_kwh
from usage u
left join specs s on s.gpu_name = u.gpu_name

-- One row per cloud deployment and UTC hour it ran GPU instances, with GPU energy ESTIMATED from a
-- power model (no telemetry, macro estimated_gpu_energy_kwh): GPU-hours x (idle_w + utilization x
-- (tdp_w - idle_w)) / 1000, the Cloud Carbon Footprint method, with var cloud_gpu_utilization_pct
-- (default 50 %) and the GPU model's idle and board power from gpu_specs (cited there);
-- gpu_energy_at_idle_kwh is the same at 0 %.
-- GPU-hours, one CTE per provider:
--   aws: the CUR's BoxUsage line items of GPU instance types (seed aws_gpu_instances)
--   gcp: Cloud Billing's vCPU rows of GPU machine types (seed gcp_gpu_machine_types; int_gcp_charges)
--   azure: usage rows of GPU VM sizes (seed azure_gpu_vm_sizes; int_azure_charges)
-- A new provider adds its CTE to the union; everything below it is shared. Each row's GPU-hours are
-- spread over the hours of its charge period (macro expand_to_hours), as its cost is
-- (int_deployment_costs_hourly): Azure bills VMs per day, a CUR may be exported by the day.
-- Incremental by the month of the hour (usage_month_start): a run rebuilds the months whose charges
-- it rebuilt and the month before them (a billing month can hold the previous month's usage); it
-- reads the rows that start a month earlier still (a period can cross a month's start).
{{ config(**monthly_incremental('usage_month_start', cluster_by=['deployment_id'])) }}
{%- set in_run = in_run_months_of('c.ChargePeriodStart', widen_months=2, kind='billing') %}
with aws_usage as (
    select
        c.deployment_id, 'aws' as provider, c.account_id, c.RegionId as region_code, c.ChargePeriodStart, c.ChargePeriodEnd,
        i.gpu_name,
        c.ConsumedQuantity                 as instance_hours,
        c.ConsumedQuantity * i.gpu_count   as gpu_hours
    from {{ ref('int_aws_charges') }} c
    join {{ ref('aws_gpu_instances') }} i on i.instance_type = c.instance_type
    where c.deployment_id is not null and c.usage_type like '%BoxUsage%' and c.ChargeCategory = 'Usage' and {{ in_run }}
),

gcp_usage as (
    select
        deployment_id, 'gcp' as provider, account_id, RegionId as region_code, ChargePeriodStart, ChargePeriodEnd,
        gpu_name,
        instance_hours,
        gpu_hours
    from {{ ref('int_gcp_charges') }} c
    where c.deployment_id is not null and c.gpu_hours > 0 and {{ in_run }}
),

azure_usage as (
    select
        c.deployment_id, 'azure' as provider, c.account_id, c.RegionId as region_code, c.ChargePeriodStart, c.ChargePeriodEnd,
        c.gpu_name,
        c.instance_hours,
        c.gpu_hours
    from {{ ref('int_azure_charges') }} c
    where c.deployment_id is not null and c.gpu_hours > 0 and {{ in_run }}
),

usage_rows as (
    select * from aws_usage
    union all
    select * from gcp_usage
    union all
    select * from azure_usage
),

hourly as (
{{ expand_to_hours('usage_rows', 'ChargePeriodStart', 'ChargePeriodEnd',
                   ['deployment_id', 'provider', 'account_id', 'region_code', 'gpu_name', 'instance_hours', 'gpu_hours']) }}
),

usage as (
    select
        deployment_id, provider, account_id, region_code, hour_utc, gpu_name,
        {{ stable_sum('instance_hours * hour_share') }}      as instance_hours,
        {{ stable_sum('gpu_hours * hour_share') }}           as gpu_hours
    from hourly
    -- only the rebuilt months' hours (a rebuilt month replaces all of its rows)
    where {{ in_run_months(month_start('hour_utc'), widen_months=1, kind='billing') }}
    group by 1, 2, 3, 4, 5, 6
),

specs as (select * from {{ ref('int_gpu_models') }})

select
    u.deployment_id,
    u.hour_utc,
    {{ month_start('u.hour_utc') }}                         as usage_month_start,
    u.provider,
    u.provider || '/' || u.region_code                      as site_id,
    u.region_code,
    u.account_id,
    u.gpu_name,
    u.instance_hours,
    u.gpu_hours,
    {{ var('cloud_gpu_utilization_pct') }}                  as assumed_utilization_gpu_pct,
    {{ estimated_gpu_energy_kwh('u.gpu_hours', var('cloud_gpu_utilization_pct'), 's.idle_w', 's.tdp_w') }} as gpu_energy_kwh,
    -- the same power model at 0 % utilization: the estimate of an hour its deployment served no request
    -- (int_deployment_energy_hourly)
    {{ estimated_gpu_energy_kwh('u.gpu_hours', 0, 's.idle_w', 's.tdp_w') }} as gpu_energy_at_idle_kwh
from usage u
left join specs s on s.gpu_name = u.gpu_name

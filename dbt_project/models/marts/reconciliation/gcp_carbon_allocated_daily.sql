{{ config(**table_layout(partition_by='date_day', cluster_by=['deployment_id', 'project_id'])) }}

-- One row per UTC day x GCP carbon row (usage month, billing account, project, service, location)
-- x deployment, with GCP's reported kgCO2e spread onto them. deployment_id NULL (is_allocated
-- false) is carbon we cannot attribute: kept and visible, never dropped. The rule, per carbon row,
-- matched with Cloud Billing on usage month, project, service and region (docs/gcp_bigquery.md):
--   1. gpu_hours   the key's billing shows GPU VMs: each (day, deployment) gets its share of the
--                  key's GPU-hours; GPU VMs attributed to no deployment keep theirs unallocated.
--   2. cost_share  else the key has cost > 0: each (day, deployment) gets its share of the key's
--                  cost (before credits); unattributed cost keeps its share unallocated.
--   3. even_days   else (no project, or no billing for the key): the month's days evenly, unallocated.
-- Every scope and both reported totals are spread with the same share, so per carbon row and scope
-- allocated + unallocated = reported (dbt tests equal_total). GPU energy dominates a project that
-- serves models on GPUs; the rule gives its CPUs' and disks' share of the key to the GPU VMs too.
with carbon as (
    select * from {{ ref('stg_gcp__carbon_footprint') }}
),

drivers as (
    select
        {{ month_label('ChargePeriodStart') }}                  as usage_month,
        account_id                                              as project_id,
        service_id,
        coalesce(RegionId, location)                            as region,
        cast(ChargePeriodStart as date)                         as date_day,
        deployment_id,
        {{ stable_sum('gpu_hours') }}                                          as gpu_hours,
        {{ stable_sum('case when BilledCost > 0 then BilledCost else 0 end') }} as cost
    from {{ ref('int_gcp_charges') }}
    where ChargeCategory = 'Usage'
    group by 1, 2, 3, 4, 5, 6
),

key_totals as (
    select usage_month, project_id, service_id, region, {{ stable_sum('gpu_hours') }} as key_gpu_hours, {{ stable_sum('cost') }} as key_cost
    from drivers
    group by 1, 2, 3, 4
),

by_driver as (
    select
        c.carbon_row_id,
        d.date_day,
        d.deployment_id,
        case when t.key_gpu_hours > 0 then 'gpu_hours' else 'cost_share' end as allocation_basis,
        case when t.key_gpu_hours > 0 then {{ stable_value('d.gpu_hours') }} / t.key_gpu_hours else {{ stable_value('d.cost') }} / t.key_cost end as share
    from carbon c
    join key_totals t
      on t.usage_month = c.usage_month and t.project_id = c.project_id
     and t.service_id = c.service_id and t.region = c.region
    join drivers d
      on d.usage_month = t.usage_month and d.project_id = t.project_id
     and d.service_id = t.service_id and d.region = t.region
    where t.key_gpu_hours > 0 or t.key_cost > 0
),

undriven as (
    select c.carbon_row_id, c.usage_month_start, c.usage_month_end
    from carbon c
    where not exists (select 1 from by_driver b where b.carbon_row_id = c.carbon_row_id)
),

undriven_days as (
    {{ expand_to_days('undriven', 'usage_month_start', 'usage_month_end', ['carbon_row_id']) }}
),

even as (
    select
        carbon_row_id,
        date_day,
        cast(null as {{ dbt.type_string() }})                    as deployment_id,
        'even_days'                                             as allocation_basis,
        1.0 / count(*) over (partition by carbon_row_id)        as share
    from undriven_days
),

allocated as (
    select * from by_driver where share > 0
    union all
    select * from even
)

select
    a.date_day,
    c.usage_month,
    c.carbon_model_version,
    c.billing_account_id,
    c.project_id,
    c.service_id,
    c.service_description,
    c.location,
    c.region,
    a.deployment_id,
    a.deployment_id is not null                                 as is_allocated,
    a.allocation_basis,
    a.share,
    c.scope1_kgco2e * a.share                                   as scope1_kgco2e,
    c.scope2_location_kgco2e * a.share                          as scope2_location_kgco2e,
    c.scope2_market_kgco2e * a.share                            as scope2_market_kgco2e,
    c.scope3_kgco2e * a.share                                   as scope3_kgco2e,
    c.total_location_kgco2e * a.share                           as reported_total_location_kgco2e,
    c.total_market_kgco2e * a.share                             as reported_total_market_kgco2e,
    c.carbon_row_id
from allocated a
join carbon c on c.carbon_row_id = a.carbon_row_id

-- One row per AWS account and usage month with either AWS's reported carbon or our estimate.
-- reported_*: AWS's CARBON_EMISSIONS export (latest model version), all regions and products.
-- estimated_*: our figure for the GPU deployments we attribute to the account: estimated GPU energy
--   (instance-hours x power model) x AWS PUE x the region's grid factor. It covers only the
--   deployments' GPU instances, AWS's covers everything the account ran: read the ratio with that
--   in mind, and as the answer to "why do the tools disagree?".
-- difference_kgco2e_location = estimated - reported; ratio_location = estimated / reported.
{{ config(**table_layout(cluster_by=['usage_period', 'account_id'])) }}
with reported as (
    select usage_period, account_id,
           {{ stable_sum('carbon_kgco2e_location') }} as reported_kgco2e_location,
           {{ stable_sum('carbon_kgco2e_market') }}   as reported_kgco2e_market
    from {{ ref('stg_aws__carbon_emissions') }}
    group by usage_period, account_id
),
deployment_accounts as (
    -- AWS's only: the GCP projects and Azure subscriptions have their own reconciliation (or none)
    select distinct deployment_id, account_id from {{ ref('int_cloud_gpu_usage_hourly') }} where provider = 'aws'
),
estimated as (
    select
        {{ month_label('f.date_day') }} as usage_period,
        a.account_id,
        {{ stable_sum('f.carbon_kgco2e_location') }} as estimated_kgco2e_location,
        {{ stable_sum('f.carbon_kgco2e_market') }}   as estimated_kgco2e_market,
        {{ stable_sum('f.gpu_energy_kwh') }}         as estimated_gpu_energy_kwh
    from {{ ref('inference_energy_fact') }} f
    join deployment_accounts a on a.deployment_id = f.deployment_id
    group by 1, 2
)
select
    coalesce(r.usage_period, e.usage_period)                         as usage_period,
    coalesce(r.account_id, e.account_id)                             as account_id,
    r.reported_kgco2e_location,
    r.reported_kgco2e_market,
    e.estimated_kgco2e_location,
    e.estimated_kgco2e_market,
    e.estimated_gpu_energy_kwh,
    e.estimated_kgco2e_location - r.reported_kgco2e_location         as difference_kgco2e_location,
    {{ safe_divide('e.estimated_kgco2e_location', 'r.reported_kgco2e_location') }} as ratio_location,
    {{ safe_divide('e.estimated_kgco2e_market', 'r.reported_kgco2e_market') }}     as ratio_market
from reported r
full outer join estimated e on e.usage_period = r.usage_period and e.account_id = r.account_id

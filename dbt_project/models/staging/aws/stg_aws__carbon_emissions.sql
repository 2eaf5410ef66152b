-- One row per usage month, account, region and product: AWS's own carbon figures, latest model
-- version only (AWS publishes a new model version beside the old one for a while).
with ranked as (
    select *, dense_rank() over (partition by usage_period order by model_version desc) as version_rank
    from {{ source('raw', 'aws_carbon_emissions') }}
)
select
    usage_period, model_version, usage_account_id as account_id, region_code, product_code,
    carbon_kgco2e_location, carbon_kgco2e_market
from ranked
where version_rank = 1

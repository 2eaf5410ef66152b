-- One row per site and UTC hour with energy: the grid intensity that applies.
-- On-prem: hourly drops win; otherwise the zone's yearly average for that year, else its latest
-- year. Cloud regions: the region's factor (seed cloud_region_grid_factors, Cloud Carbon Footprint).
-- Market-based falls back to location-based when no market-based figure is given.
-- Incremental by day over the run's span, as the energy it reads (a daily run looks up its own days).
{{ config(**daily_incremental(cluster_by=['site_id'])) }}
{%- do require_incremental_key() %}
with site_hours as (
    select distinct e.site_id, e.hour_utc, e.date_day, s.grid_zone, s.provider, s.region_code
    from {{ ref('int_deployment_energy_hourly') }} e
    join {{ ref('int_sites') }} s on s.site_id = e.site_id
    where {{ in_run_interval('e.date_day') }}
),

yearly as (select * from {{ ref('stg_grid__intensity_yearly') }}),

latest_year as (
    select zone, max(year) as year from yearly group by zone
)

select
    sh.site_id,
    sh.hour_utc,
    sh.date_day,
    sh.grid_zone,
    coalesce(h.gco2e_per_kwh_location, y.gco2e_per_kwh_location, ly.gco2e_per_kwh_location, cf.gco2e_per_kwh_location) as gco2e_per_kwh_location,
    coalesce(h.gco2e_per_kwh_market, h.gco2e_per_kwh_location, y.gco2e_per_kwh_location, ly.gco2e_per_kwh_location, cf.gco2e_per_kwh_location) as gco2e_per_kwh_market,
    case
        when h.gco2e_per_kwh_location is not null then 'hourly'
        when y.gco2e_per_kwh_location is not null then 'yearly_average'
        when ly.gco2e_per_kwh_location is not null then 'latest_yearly_average'
        when cf.gco2e_per_kwh_location is not null then 'cloud_region_factor'
        else 'missing'
    end as intensity_source,
    case when h.gco2e_per_kwh_market is not null then 'market' else 'location_fallback' end as market_basis
from site_hours sh
left join {{ ref('stg_grid__intensity_hourly') }} h
  on h.zone = sh.grid_zone and h.hour_utc = sh.hour_utc
left join yearly y
  on y.zone = sh.grid_zone and y.year = extract(year from sh.hour_utc)
left join latest_year lyk on lyk.zone = sh.grid_zone
left join yearly ly on ly.zone = lyk.zone and ly.year = lyk.year
left join {{ ref('cloud_region_grid_factors') }} cf on cf.provider = sh.provider and cf.region = sh.region_code

-- One row per grid zone and UTC hour from the hourly drops.
select
    zone,
    hour_utc,
    gco2e_per_kwh_location,
    gco2e_per_kwh_market,
    _file_id  -- the drop it came from: stg_pipeline__loaded_files
from {{ source('raw', 'grid_intensity_hourly') }}

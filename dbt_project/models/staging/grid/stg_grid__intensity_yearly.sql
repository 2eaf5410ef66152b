-- One row per zone and year: the reference averages (seed), cast once here.
select
    zone,
    zone_name,
    cast(year as integer)                  as year,
    cast(gco2e_per_kwh_location as {{ type_double() }}) as gco2e_per_kwh_location
from {{ ref('grid_intensity_yearly') }}

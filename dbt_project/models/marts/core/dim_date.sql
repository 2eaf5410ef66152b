-- One row per calendar day from the first to the last day in the fact.
{{ config(**table_layout(cluster_by=['date_day'])) }}
with bounds as (
    select min(date_day) as first_day, max(date_day) as last_day from {{ ref('inference_energy_fact') }}
),
spine as (
    {{ days_between('bounds', 'first_day', 'last_day') }}
)
select
    cast(date_day as date)                                  as date_day,
    extract(year from date_day)                             as year,
    extract(month from date_day)                            as month,
    {{ iso_week_label('cast(date_day as date)') }}          as iso_week,
    {{ iso_week_start('cast(date_day as date)') }}          as iso_week_start,
    1 + {{ dbt.datediff(iso_week_start('cast(date_day as date)'), 'cast(date_day as date)', 'day') }} as iso_day_of_week
from spine

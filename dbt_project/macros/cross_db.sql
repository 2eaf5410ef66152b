{#- The few warehouse-specific expressions, each dispatched once (DuckDB default, BigQuery). -#}

{#- ISO week label of a date, e.g. 2026-W47 -#}
{% macro iso_week_label(date_expr) -%}{{ return(adapter.dispatch('iso_week_label', 'greenops')(date_expr)) }}{%- endmacro %}
{% macro default__iso_week_label(date_expr) -%}strftime({{ date_expr }}, '%G-W%V'){%- endmacro %}
{% macro bigquery__iso_week_label(date_expr) -%}format_date('%G-W%V', {{ date_expr }}){%- endmacro %}

{#- Monday of the ISO week of a date -#}
{% macro iso_week_start(date_expr) -%}{{ return(adapter.dispatch('iso_week_start', 'greenops')(date_expr)) }}{%- endmacro %}
{% macro default__iso_week_start(date_expr) -%}cast(date_trunc('week', {{ date_expr }}) as date){%- endmacro %}
{% macro bigquery__iso_week_start(date_expr) -%}date_trunc({{ date_expr }}, isoweek){%- endmacro %}

{#- Microseconds between two timestamps (an integer: sums of it are exact in any order) -#}
{% macro microseconds_between(start_ts, end_ts) -%}{{ return(adapter.dispatch('microseconds_between', 'greenops')(start_ts, end_ts)) }}{%- endmacro %}
{% macro default__microseconds_between(start_ts, end_ts) -%}(epoch_us({{ end_ts }}) - epoch_us({{ start_ts }})){%- endmacro %}
{% macro bigquery__microseconds_between(start_ts, end_ts) -%}timestamp_diff({{ end_ts }}, {{ start_ts }}, microsecond){%- endmacro %}

{#- Seconds between two timestamps, fractional -#}
{% macro seconds_between(start_ts, end_ts) -%}{{ microseconds_between(start_ts, end_ts) }} / 1e6{%- endmacro %}

{#- x / y, NULL when y is zero or NULL -#}
{% macro safe_divide(numerator, denominator) -%}{{ return(adapter.dispatch('safe_divide', 'greenops')(numerator, denominator)) }}{%- endmacro %}
{% macro default__safe_divide(numerator, denominator) -%}({{ numerator }}) / nullif({{ denominator }}, 0){%- endmacro %}
{% macro bigquery__safe_divide(numerator, denominator) -%}safe_divide({{ numerator }}, {{ denominator }}){%- endmacro %}

{#- One row per day from start_col to end_col (inclusive) of a one-row relation, column date_day -#}
{% macro days_between(relation, start_col, end_col) -%}{{ return(adapter.dispatch('days_between', 'greenops')(relation, start_col, end_col)) }}{%- endmacro %}
{% macro default__days_between(relation, start_col, end_col) -%}
select cast(unnest(generate_series(cast({{ start_col }} as timestamp), cast({{ end_col }} as timestamp), interval 1 day)) as date) as date_day
from {{ relation }}
{%- endmacro %}
{% macro bigquery__days_between(relation, start_col, end_col) -%}
select date_day from {{ relation }}, unnest(generate_date_array({{ start_col }}, {{ end_col }})) as date_day
{%- endmacro %}

{#- The text value of one key of a JSON object held as text (NULL when absent) -#}
{% macro json_text(json_expr, key) -%}{{ return(adapter.dispatch('json_text', 'greenops')(json_expr, key)) }}{%- endmacro %}
{% macro default__json_text(json_expr, key) -%}json_extract_string({{ json_expr }}, '$."{{ key }}"'){%- endmacro %}
{% macro bigquery__json_text(json_expr, key) -%}json_value({{ json_expr }}, '$."{{ key }}"'){%- endmacro %}

{#- The part of a text before the first occurrence of a separator (the whole text without one) -#}
{% macro text_before(text_expr, separator) -%}{{ return(adapter.dispatch('text_before', 'greenops')(text_expr, separator)) }}{%- endmacro %}
{% macro default__text_before(text_expr, separator) -%}split_part({{ text_expr }}, {{ separator }}, 1){%- endmacro %}
{% macro bigquery__text_before(text_expr, separator) -%}split({{ text_expr }}, {{ separator }})[safe_offset(0)]{%- endmacro %}

{#- 'YYYY-MM' of a date or timestamp (UTC) -#}
{% macro month_label(date_expr) -%}{{ return(adapter.dispatch('month_label', 'greenops')(date_expr)) }}{%- endmacro %}
{% macro default__month_label(date_expr) -%}strftime(cast({{ date_expr }} as date), '%Y-%m'){%- endmacro %}
{% macro bigquery__month_label(date_expr) -%}format_date('%Y-%m', cast({{ date_expr }} as date)){%- endmacro %}

{#- A timestamp n hours later, still a timestamp (dbt.dateadd gives a DATETIME on BigQuery) -#}
{% macro timestamp_add_hours(ts_expr, hours) -%}{{ return(adapter.dispatch('timestamp_add_hours', 'greenops')(ts_expr, hours)) }}{%- endmacro %}
{% macro default__timestamp_add_hours(ts_expr, hours) -%}({{ ts_expr }} + interval ({{ hours }}) hour){%- endmacro %}
{% macro bigquery__timestamp_add_hours(ts_expr, hours) -%}timestamp_add({{ ts_expr }}, interval {{ hours }} hour){%- endmacro %}

{#- A date n days or months later, still a date -#}
{% macro date_add_days(date_expr, days) -%}{{ return(adapter.dispatch('date_add_days', 'greenops')(date_expr, days)) }}{%- endmacro %}
{% macro default__date_add_days(date_expr, days) -%}cast({{ date_expr }} + interval ({{ days }}) day as date){%- endmacro %}
{% macro bigquery__date_add_days(date_expr, days) -%}date_add({{ date_expr }}, interval {{ days }} day){%- endmacro %}
{% macro date_add_months(date_expr, months) -%}{{ return(adapter.dispatch('date_add_months', 'greenops')(date_expr, months)) }}{%- endmacro %}
{% macro default__date_add_months(date_expr, months) -%}cast({{ date_expr }} + interval ({{ months }}) month as date){%- endmacro %}
{% macro bigquery__date_add_months(date_expr, months) -%}date_add({{ date_expr }}, interval {{ months }} month){%- endmacro %}

{#- First day of the month of a date or timestamp, as a date -#}
{% macro month_start(date_expr) -%}{{ return(adapter.dispatch('month_start', 'greenops')(date_expr)) }}{%- endmacro %}
{% macro default__month_start(date_expr) -%}cast(date_trunc('month', cast({{ date_expr }} as date)) as date){%- endmacro %}
{% macro bigquery__month_start(date_expr) -%}date_trunc(cast({{ date_expr }} as date), month){%- endmacro %}

{#- Every row of a relation repeated for each day from start_col to end_col (dates, inclusive),
    with the given columns and date_day -#}
{% macro expand_to_days(relation, start_col, end_col, columns) -%}{{ return(adapter.dispatch('expand_to_days', 'greenops')(relation, start_col, end_col, columns)) }}{%- endmacro %}
{% macro default__expand_to_days(relation, start_col, end_col, columns) -%}
select {% for c in columns %}r.{{ c }}, {% endfor %}cast(unnest(generate_series(cast(r.{{ start_col }} as timestamp), cast(r.{{ end_col }} as timestamp), interval 1 day)) as date) as date_day
from {{ relation }} r
{%- endmacro %}
{% macro bigquery__expand_to_days(relation, start_col, end_col, columns) -%}
select {% for c in columns %}r.{{ c }}, {% endfor %}date_day
from {{ relation }} r cross join unnest(generate_date_array(r.{{ start_col }}, r.{{ end_col }})) as date_day
{%- endmacro %}

{#- Sum of a floating-point quantity that does not depend on the order the rows arrive in. A plain
    sum of doubles is added in whatever order the warehouse's threads deliver the rows, so a rerun
    over the same rows can differ in the last bits; summing as an exact decimal (18 places after the
    point: 1e-18 kWh, kg or USD per row at worst) makes reruns give bit-identical totals.
    over: an optional window ("partition by ..."). -#}
{% macro stable_sum(expr, over=none) -%}{{ return(adapter.dispatch('stable_sum', 'greenops')(expr, over)) }}{%- endmacro %}
{% macro default__stable_sum(expr, over) -%}
cast(sum(cast({{ expr }} as decimal(38, 18))){% if over %} over ({{ over }}){% endif %} as double)
{%- endmacro %}
{% macro bigquery__stable_sum(expr, over) -%}
cast(sum(cast({{ expr }} as bignumeric)){% if over %} over ({{ over }}){% endif %} as float64)
{%- endmacro %}

{#- Mean of a floating-point quantity over its non-NULL rows, order-independent like stable_sum -#}
{% macro stable_avg(expr) -%}{{ safe_divide(stable_sum(expr), 'count(' ~ expr ~ ')') }}{%- endmacro %}

{#- A floating-point value on the same exact-decimal basis as stable_sum, for a share of a stable_sum
    total: each share is then at most 1 and a lone row's share is exactly 1. -#}
{% macro stable_value(expr) -%}{{ return(adapter.dispatch('stable_value', 'greenops')(expr)) }}{%- endmacro %}
{% macro default__stable_value(expr) -%}cast(cast({{ expr }} as decimal(38, 18)) as double){%- endmacro %}
{% macro bigquery__stable_value(expr) -%}cast(cast({{ expr }} as bignumeric) as float64){%- endmacro %}

{#- The whole number a text starts with ('10 Hours' -> 10), NULL when it starts with none -#}
{% macro leading_number(text_expr) -%}{{ return(adapter.dispatch('leading_number', 'greenops')(text_expr)) }}{%- endmacro %}
{% macro default__leading_number(text_expr) -%}try_cast(nullif(regexp_extract(trim({{ text_expr }}), '^([0-9]+)', 1), '') as double){%- endmacro %}
{% macro bigquery__leading_number(text_expr) -%}safe_cast(regexp_extract(trim({{ text_expr }}), r'^([0-9]+)') as float64){%- endmacro %}

{#- A 64-bit floating-point type. dbt.type_float() is FLOAT in DuckDB, 32 bits (7 digits: a third of
    an hour's energy came out as 0.3333333433 of it, and shares no longer summed to 1); FLOAT64 on
    BigQuery either way. -#}
{% macro type_double() -%}{{ return(adapter.dispatch('type_double', 'greenops')()) }}{%- endmacro %}
{% macro default__type_double() -%}double{%- endmacro %}
{% macro bigquery__type_double() -%}float64{%- endmacro %}

{#- Every row of a relation repeated for each UTC hour its period [start_col, end_col) touches, with
    the given columns, hour_utc and hour_share: the part of the period in that hour (its shares sum
    to 1; a period without an end, or ending at its start, is all in its first hour). A charge or a
    usage quantity times hour_share is its part in the hour: a daily Azure charge, or a CUR exported
    at daily granularity, is spread over its 24 hours, not booked in the first. Periods are read at
    most a month long (billing periods): the expansion is as long as the period. -#}
{% macro expand_to_hours(relation, start_col, end_col, columns) -%}{{ return(adapter.dispatch('expand_to_hours', 'greenops')(relation, start_col, end_col, columns)) }}{%- endmacro %}
{% macro _hour_share() -%}
case when period_end is null or period_end <= period_start then 1.0
     else cast({{ microseconds_between('greatest(period_start, hour_utc)', 'least(period_end, ' ~ timestamp_add_hours('hour_utc', 1) ~ ')') }} as {{ type_double() }})
          / {{ microseconds_between('period_start', 'period_end') }}
end
{%- endmacro %}
{#- the series runs to the period's end (its start if it has none); an hour starting at the end is dropped -#}
{% macro _period_last_hour(start_col, end_col) -%}
case when r.{{ end_col }} > r.{{ start_col }} then r.{{ end_col }} else r.{{ start_col }} end
{%- endmacro %}
{% macro _in_period() -%}
where period_end is null or period_end <= period_start or hour_utc < period_end
{%- endmacro %}
{% macro default__expand_to_hours(relation, start_col, end_col, columns) -%}
select {% for c in columns %}{{ c }}, {% endfor %}hour_utc, {{ _hour_share() }} as hour_share
from (
    select {% for c in columns %}r.{{ c }}, {% endfor %}r.{{ start_col }} as period_start, r.{{ end_col }} as period_end,
           unnest(generate_series(date_trunc('hour', r.{{ start_col }}), {{ _period_last_hour(start_col, end_col) }}, interval 1 hour)) as hour_utc
    from {{ relation }} r
) periods
{{ _in_period() }}
{%- endmacro %}
{% macro bigquery__expand_to_hours(relation, start_col, end_col, columns) -%}
select {% for c in columns %}{{ c }}, {% endfor %}hour_utc, {{ _hour_share() }} as hour_share
from (
    select {% for c in columns %}r.{{ c }}, {% endfor %}r.{{ start_col }} as period_start, r.{{ end_col }} as period_end, hour_utc
    from {{ relation }} r
    cross join unnest(generate_timestamp_array(timestamp_trunc(r.{{ start_col }}, hour), {{ _period_last_hour(start_col, end_col) }}, interval 1 hour)) as hour_utc
) periods
{{ _in_period() }}
{%- endmacro %}

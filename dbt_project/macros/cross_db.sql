{#- The few warehouse-specific expressions, each dispatched once (DuckDB default, BigQuery). -#}

{#- ISO week label of a date, e.g. 2026-W47 -#}
{% macro iso_week_label(date_expr) -%}{{ return(adapter.dispatch('iso_week_label', 'greenops')(date_expr)) }}{%- endmacro %}
{% macro default__iso_week_label(date_expr) -%}strftime({{ date_expr }}, '%G-W%V'){%- endmacro %}
{% macro bigquery__iso_week_label(date_expr) -%}format_date('%G-W%V', {{ date_expr }}){%- endmacro %}

{#- Monday of the ISO week of a date -#}
{% macro iso_week_start(date_expr) -%}{{ return(adapter.dispatch('iso_week_start', 'greenops')(date_expr)) }}{%- endmacro %}
{% macro default__iso_week_start(date_expr) -%}cast(date_trunc('week', {{ date_expr }}) as date){%- endmacro %}
{% macro bigquery__iso_week_start(date_expr) -%}date_trunc({{ date_expr }}, isoweek){%- endmacro %}

{#- Seconds between two timestamps, fractional -#}
{% macro seconds_between(start_ts, end_ts) -%}{{ return(adapter.dispatch('seconds_between', 'greenops')(start_ts, end_ts)) }}{%- endmacro %}
{% macro default__seconds_between(start_ts, end_ts) -%}(epoch_us({{ end_ts }}) - epoch_us({{ start_ts }})) / 1e6{%- endmacro %}
{% macro bigquery__seconds_between(start_ts, end_ts) -%}timestamp_diff({{ end_ts }}, {{ start_ts }}, microsecond) / 1e6{%- endmacro %}

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

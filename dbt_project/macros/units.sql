{#- Unit conversions, one definition each. -#}
{% macro mj_to_kwh(expr) -%}(({{ expr }}) / 3600000000.0){%- endmacro %}   {# 1 kWh = 3.6e6 J = 3.6e9 mJ #}
{% macro joules_to_kwh(expr) -%}(({{ expr }}) / 3600000.0){%- endmacro %}
{% macro grams_to_kg(expr) -%}(({{ expr }}) / 1000.0){%- endmacro %}

{#- KPI building blocks: one definition each, used by the KPI models and their docs. -#}
{% macro per_million(numerator, denominator) -%}{{ safe_divide('(' ~ numerator ~ ') * 1000000.0', denominator) }}{%- endmacro %}
{% macro per_thousand(numerator, denominator) -%}{{ safe_divide('(' ~ numerator ~ ') * 1000.0', denominator) }}{%- endmacro %}

{#- The cloud power model (Cloud Carbon Footprint): GPU energy (kWh) of gpu_hours at utilization_pct %
    of the way from the GPU's idle power idle_w to its board power tdp_w (W). -#}
{% macro estimated_gpu_energy_kwh(gpu_hours, utilization_pct, idle_w, tdp_w) -%}
    ({{ gpu_hours }}) * ({{ idle_w }} + ({{ utilization_pct }}) / 100.0 * ({{ tdp_w }} - {{ idle_w }})) / 1000.0
{%- endmacro %}

{#- Unit conversions, one definition each. -#}
{% macro mj_to_kwh(expr) -%}(({{ expr }}) / 3600000000.0){%- endmacro %}   {# 1 kWh = 3.6e6 J = 3.6e9 mJ #}
{% macro joules_to_kwh(expr) -%}(({{ expr }}) / 3600000.0){%- endmacro %}
{% macro grams_to_kg(expr) -%}(({{ expr }}) / 1000.0){%- endmacro %}

{#- KPI building blocks: one definition each, used by the KPI models and their docs. -#}
{% macro per_million(numerator, denominator) -%}{{ safe_divide('(' ~ numerator ~ ') * 1000000.0', denominator) }}{%- endmacro %}
{% macro per_thousand(numerator, denominator) -%}{{ safe_divide('(' ~ numerator ~ ') * 1000.0', denominator) }}{%- endmacro %}

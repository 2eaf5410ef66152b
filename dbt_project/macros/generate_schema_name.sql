{#- Schemas are named as configured (raw, staging, intermediate, marts, reference), not prefixed
    with the target schema, so analysts and BI tools find the same names on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

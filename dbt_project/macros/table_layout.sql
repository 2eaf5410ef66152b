{#- Physical layout of a mart on BigQuery: partitioned by a date column (day or month granularity)
    and clustered by the columns BI tools filter on. Nothing on DuckDB (one file, no partitions).
    Use: {{ config(**table_layout(partition_by='date_day', cluster_by=['deployment_id'])) }} -#}
{% macro table_layout(partition_by=none, granularity='day', cluster_by=none, materialized='table') -%}
    {%- set cfg = {'materialized': materialized} -%}
    {%- if target.type == 'bigquery' -%}
        {%- if partition_by -%}
            {%- do cfg.update({'partition_by': {'field': partition_by, 'data_type': 'date', 'granularity': granularity}}) -%}
        {%- endif -%}
        {%- if cluster_by -%}{%- do cfg.update({'cluster_by': cluster_by}) -%}{%- endif -%}
    {%- endif -%}
    {{ return(cfg) }}
{%- endmacro %}

{#- Daily marts build incrementally over the transformation run's data interval (vars start_date and
    end_date, set by the DAG from the days its triggering ingestion runs loaded). DuckDB replaces the
    interval's days with delete+insert; BigQuery overwrites the interval's date partitions. With the
    vars unset (a manual run, a first build) everything is rebuilt. -#}
{% macro daily_incremental(cluster_by=none) -%}
    {%- set cfg = {'materialized': 'incremental', 'on_schema_change': 'sync_all_columns'} -%}
    {%- if target.type == 'bigquery' -%}
        {%- do cfg.update({'incremental_strategy': 'insert_overwrite',
                           'partition_by': {'field': 'date_day', 'data_type': 'date', 'granularity': 'day'}}) -%}
        {%- if cluster_by -%}{%- do cfg.update({'cluster_by': cluster_by}) -%}{%- endif -%}
    {%- else -%}
        {%- do cfg.update({'incremental_strategy': 'delete+insert', 'unique_key': 'date_day'}) -%}
    {%- endif -%}
    {{ return(cfg) }}
{%- endmacro %}

{#- SQL condition keeping the run's interval in an incremental build, `true` otherwise. -#}
{% macro in_run_interval(date_expr) -%}
    {%- if var('start_date') and var('end_date') and is_incremental() -%}
        {%- for v in [var('start_date'), var('end_date')] -%}
            {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', v | string) -%}
                {{ exceptions.raise_compiler_error("start_date and end_date must be YYYY-MM-DD, got " ~ v) }}
            {%- endif -%}
        {%- endfor -%}
        {{ date_expr }} between cast('{{ var("start_date") }}' as date) and cast('{{ var("end_date") }}' as date)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Incremental builds over what the transformation run's loads replaced. The DAG passes, from the
    Asset events of the loads that triggered it (greenops.airflow_support.dbt_vars_from_events), as
    environment variables GREENOPS_RUN_<NAME> (a run by hand: as vars; _run_date):
      start_date, end_date                  the span of every day replaced: the fact and daily KPIs
      usage_start_date, usage_end_date      the days of telemetry, requests and grid intensity loaded
      billing_start_date, billing_end_date  the days of the billing periods reloaded (whole months)
    (the span reaches a month before a reloaded period: its usage can date from the month before).
    Only start_date/end_date (a run by hand) stand for both kinds. A run with only one kind of load
    rebuilds nothing of the other kind's models (a CUR reload does not re-aggregate a month of raw
    samples; a telemetry day does not re-read the CUR). With no dates everything is rebuilt.

    Daily models (key date_day) rebuild days. Charge models (key billing_month_start, the first day
    of a billing month) rebuild the billing months the days touch, so a daily run costs one month of
    charges however many months are kept; what is summed from charges by the hour (key
    usage_month_start) rebuilds those months and the month before (a billing month can hold the
    previous month's usage). DuckDB replaces the key's values with delete+insert; BigQuery overwrites
    the key's date partitions (insert_overwrite). -#}
{% macro incremental_by(key, granularity, cluster_by=none) -%}
    {%- set cfg = {'materialized': 'incremental', 'on_schema_change': 'sync_all_columns'} -%}
    {%- if target.type == 'bigquery' -%}
        {%- do cfg.update({'incremental_strategy': 'insert_overwrite',
                           'partition_by': {'field': key, 'data_type': 'date', 'granularity': granularity}}) -%}
        {%- if cluster_by -%}{%- do cfg.update({'cluster_by': cluster_by}) -%}{%- endif -%}
    {%- else -%}
        {%- do cfg.update({'incremental_strategy': 'delete+insert', 'unique_key': key}) -%}
    {%- endif -%}
    {{ return(cfg) }}
{%- endmacro %}

{% macro daily_incremental(cluster_by=none) -%}{{ return(incremental_by('date_day', 'day', cluster_by)) }}{%- endmacro %}
{#- key: billing_month_start for charges, usage_month_start for what is summed from them by the hour. -#}
{% macro monthly_incremental(key='billing_month_start', cluster_by=none) -%}{{ return(incremental_by(key, 'month', cluster_by)) }}{%- endmacro %}

{#- One date of the run: the var (a run by hand: --vars), else the environment variable
    GREENOPS_RUN_<NAME> (the transformation DAG), none when neither is set. The environment is read
    only when dbt executes, never while it parses: the project parsed once stays valid from one daily
    run to the next (a var that changes makes dbt parse the whole project again, about 3 s). -#}
{% macro _run_date(name) -%}
    {%- set value = var(name, none) or none -%}
    {%- if value is none and execute -%}{%- set value = env_var('GREENOPS_RUN_' ~ name | upper, '') or none -%}{%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- A pair of run dates as [start, end] (validated ISO dates), none when either is unset. -#}
{% macro _date_vars(prefix) -%}
    {%- set bounds = [_run_date(prefix ~ 'start_date'), _run_date(prefix ~ 'end_date')] -%}
    {%- if bounds[0] is none or bounds[1] is none -%}{{ return(none) }}{%- endif -%}
    {%- set bounds = bounds | map('string') | list -%}
    {%- for v in bounds -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', v) -%}
            {{ exceptions.raise_compiler_error(prefix ~ "start_date and " ~ prefix ~ "end_date must be YYYY-MM-DD, got " ~ v) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(bounds) }}
{%- endmacro %}

{#- The run's days of a kind as [start, end]: none (the span: the fact and daily KPIs), 'usage',
    'billing', or 'charges' (usage and billing together: what on-prem and cloud charges rebuild).
    none when the run has no dates (rebuild everything); [] when it has dates but none of this kind
    (rebuild nothing). -#}
{% macro run_interval(kind=none) -%}
    {%- set span = _date_vars('') -%}
    {%- if span is none or kind is none -%}{{ return(span) }}{%- endif -%}
    {%- if kind not in ('usage', 'billing', 'charges') -%}{{ exceptions.raise_compiler_error("unknown interval kind " ~ kind) }}{%- endif -%}
    {%- set usage, billing = _date_vars('usage_'), _date_vars('billing_') -%}
    {%- if usage is none and billing is none -%}{{ return(span) }}{%- endif -%}
    {%- if kind == 'charges' -%}
        {%- set both = ([usage] if usage else []) + ([billing] if billing else []) -%}
        {{ return([both | map(attribute=0) | min, both | map(attribute=1) | max]) }}
    {%- endif -%}
    {%- set own = usage if kind == 'usage' else billing -%}
    {{ return(own if own is not none else []) }}
{%- endmacro %}

{#- The first days of the first and last months of the run's days of a kind, as ISO dates, the first
    one widen_months earlier; none / [] as run_interval. -#}
{% macro run_months(widen_months=0, kind=none) -%}
    {%- set bounds = run_interval(kind) -%}
    {%- if not bounds -%}{{ return(bounds) }}{%- endif -%}
    {{ return([_add_months(bounds[0], -widen_months), _add_months(bounds[1], 0)]) }}
{%- endmacro %}

{#- The first day of the month `months` months after the month of the ISO date iso (YYYY-MM-DD). -#}
{% macro _add_months(iso, months) -%}
    {%- set n = (iso[:4] | int) * 12 + (iso[5:7] | int) - 1 + months -%}
    {{ return('%04d-%02d-01' | format(n // 12, n % 12 + 1)) }}
{%- endmacro %}

{#- SQL condition: expr between the bounds; `true` for none (everything), `false` for [] (nothing).
    until: the upper bound is excluded and both are timestamps (a range of whole months). -#}
{% macro _between(expr, bounds, label=false, until=false) -%}
    {%- if bounds is none -%}true
    {%- elif not bounds -%}false
    {%- elif until -%}({{ expr }} >= cast('{{ bounds[0] }}' as timestamp) and {{ expr }} < cast('{{ bounds[1] }}' as timestamp))
    {%- elif label -%}{{ expr }} between '{{ bounds[0][:7] }}' and '{{ bounds[1][:7] }}'
    {%- else -%}{{ expr }} between cast('{{ bounds[0] }}' as date) and cast('{{ bounds[1] }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- SQL condition keeping the run's days (of a kind) in an incremental build, `true` otherwise. -#}
{% macro in_run_interval(date_expr, kind=none) -%}
    {%- set bounds = run_interval(kind) -%}
    {{- _between(date_expr, bounds if bounds is not none and is_incremental() else none) -}}
{%- endmacro %}

{#- A warehouse built before a model became incremental has its table without the key column:
    delete+insert would keep those rows beside the rebuilt days or months (counted twice). Fail the run
    instead, naming the one-time rebuild. Called by in_run_months, and once at the top of a daily model
    that was a table before (in_run_interval is also used outside models). -#}
{% macro require_incremental_key() -%}
    {#- when dbt writes the table (a compile never does, and may not reach the warehouse at all) -#}
    {%- if execute and flags.WHICH in ('run', 'build') and is_incremental() -%}
        {%- set key = config.get('unique_key') or (config.get('partition_by') or {}).get('field') -%}
        {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- if key and key | lower not in names -%}
            {{ exceptions.raise_compiler_error(this ~ " has no column " ~ key ~ ": it was built before it became "
               ~ "incremental by " ~ key ~ ". Rebuild it and what reads it once: dbt build --full-refresh --select "
               ~ this.identifier ~ "+ (docs/methodology.md, Incremental builds)") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- SQL condition keeping the run's months (of a kind) in an incremental build, `true` otherwise.
    month_expr: a month's first day (DATE), or with label=true a 'YYYY-MM' text (a raw partition). -#}
{% macro in_run_months(month_expr, widen_months=0, kind=none, label=false) -%}
    {%- do require_incremental_key() -%}
    {%- set months = run_months(widen_months, kind) -%}
    {{- _between(month_expr, months if months is not none and is_incremental() else none, label) -}}
{%- endmacro %}

{#- SQL condition: the timestamp ts_expr falls in the run's months (of a kind), the first widen_months
    earlier; `true` outside an incremental build. The rows of in_run_months(month_start(ts_expr)), as a
    range on the column itself: DuckDB answers it from each row group's min/max (zone maps) and
    BigQuery from its partitions, where a month computed for every row reads them all (charge_coverage
    on a year of a 5-million-line CUR: 0.45 s instead of 0.9-1.2 s, docs/benchmarks.md, round 17). -#}
{% macro in_run_months_of(ts_expr, widen_months=0, kind=none) -%}
    {%- do require_incremental_key() -%}
    {#- is_incremental() only with dates: without them a compile need not reach the warehouse -#}
    {%- set months = run_months(widen_months, kind) -%}
    {%- set months = months if months is not none and is_incremental() else none -%}
    {#- up to the first day of the month after the last one -#}
    {{- _between(ts_expr, [months[0], _add_months(months[1], 1)] if months else months, until=true) -}}
{%- endmacro %}

{#- A data test's `where` may say __run_days(expr)__, __usage_days(expr)__, __run_months(expr)__,
    __billing_months(expr)__ or __charge_months(expr)__ (the kinds of run_interval), the months ones optionally widened a month back (`expr, 1`), like the
    models: expr a DATE (a month's first day for months). Each becomes the condition that keeps what
    the run rebuilt (`true` without dates, `false` when the run rebuilt nothing of that kind), so an
    incremental run tests what it rebuilt and a full build tests everything. -#}
{% macro run_where(where) -%}
    {%- set out = namespace(where=where) -%}
    {%- for name, kind, unit in [('run_days', none, 'days'), ('usage_days', 'usage', 'days'), ('run_months', none, 'months'),
                                 ('billing_months', 'billing', 'months'), ('charge_months', 'charges', 'months')] -%}
        {%- if unit == 'days' -%}
            {%- set out.where = modules.re.sub('__' ~ name ~ '\\((.+?)\\)__', _between('(\\1)', run_interval(kind)), out.where) -%}
        {%- else -%}
            {%- set out.where = modules.re.sub('__' ~ name ~ '\\((.+?),\\s*1\\s*\\)__', _between('(\\1)', run_months(1, kind)), out.where) -%}
            {%- set out.where = modules.re.sub('__' ~ name ~ '\\((.+?)\\)__', _between('(\\1)', run_months(0, kind)), out.where) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if modules.re.search('__(run|usage|billing|charge)_', out.where) -%}
        {{ exceptions.raise_compiler_error("unknown run placeholder in a test's where: " ~ out.where) }}
    {%- endif -%}
    {{ return(out.where) }}
{%- endmacro %}

{#- dbt's get_where_subquery, with the placeholders above (dbt renders a test's `where` before project
    macros are in reach; this override is where they are). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where -%}{{ return(relation) }}{%- endif -%}
    {{ return('(select * from ' ~ relation ~ ' where ' ~ run_where(where) ~ ') dbt_subquery') }}
{%- endmacro %}

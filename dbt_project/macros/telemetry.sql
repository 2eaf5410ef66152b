{#- A GPU's identity in the warehouse: host/index, and /mig<N> for a MIG instance. -#}
{% macro gpu_key(host, gpu_index, mig_instance) -%}
    {{ host }} || '/' || cast({{ gpu_index }} as {{ dbt.type_string() }}) || coalesce('/mig' || {{ mig_instance }}, '')
{%- endmacro %}

{#- The energy chain's one definition of a sample interval. One row per GPU and interval between two
    consecutive samples, attributed to the interval's end. Method, in order of preference:
      counter                   difference of the energy counter (mJ) -- exact, also across gaps
      counter_reset_integrated  the counter went down (a driver reload resets it), or rose by more than any
                                GPU draws in the interval and var max_counter_lag_s (var max_gpu_power_w: a
                                glitch, not a counter read late): that interval is the trapezoid of its two
                                power readings; the counter restarts from the new reading
      integrated_power          trapezoid of the two power readings x seconds, when there is no counter
      not_integrated            power-only gap longer than max_power_gap_s() (s): energy unknown, reported as gap_s
    In an incremental build with the run's dates set (the daily run), it reads the run's days' samples
    and each GPU's last sample of the day before, so its cost does not grow with history; otherwise all
    retained samples. Used by int_gpu_energy_hourly (which stores only the hourly sums) and by the
    int_gpu_energy_intervals view (the per-sample detail, computed when queried).
    Only the columns the energy needs go through the window (it orders every sample of a GPU): the
    GPU's other attributes are read by the hour beside it (int_gpu_energy_hourly). -#}
{% macro gpu_energy_intervals(samples) -%}
{%- set bounds = run_interval('usage') %}
{%- set day_by_day = bounds and is_incremental() %}
{%- set columns = 'host, gpu_index, mig_instance, sample_ts_utc, power_w, energy_counter_mj' %}
with run_samples as (
    select {{ columns }}
    from {{ samples }}
    where {{ in_run_interval('sample_date', 'usage') }}
),

{% if day_by_day %}
{%- set day_before = date_add_days("cast('" ~ bounds[0] ~ "' as date)", -1) %}
-- each GPU's last sample of the day before the run: the previous sample of its first interval
-- (a GPU silent for that whole day starts afresh; a full refresh would join across the silence).
-- The day is read twice, not shared as a common table expression: DuckDB would store its 86 million
-- samples (at 1,000 GPUs) to find 1,000 rows (docs/benchmarks.md, round 15)
previous_last as (
    select p.*
    from (select {{ columns }} from {{ samples }} where sample_date = {{ day_before }}) p
    join (
        select host, gpu_index, mig_instance, max(sample_ts_utc) as last_ts_utc
        from {{ samples }}
        where sample_date = {{ day_before }}
        group by 1, 2, 3
    ) l
      on l.host is not distinct from p.host and l.gpu_index is not distinct from p.gpu_index
     and l.mig_instance is not distinct from p.mig_instance
     and l.last_ts_utc = p.sample_ts_utc
),
{% endif %}

samples as (
    select
        *,
        lag(sample_ts_utc) over by_gpu     as prev_ts_utc,
        lag(power_w) over by_gpu           as prev_power_w,
        lag(energy_counter_mj) over by_gpu as prev_energy_counter_mj
    from (
        select * from run_samples
        {%- if day_by_day %}
        union all
        select * from previous_last
        {%- endif %}
    ) s
    window by_gpu as (partition by host, gpu_index, mig_instance order by sample_ts_utc)
),

intervals as (
    select
        *,
        cast(sample_ts_utc as date) as date_day,
        {{ microseconds_between('prev_ts_utc', 'sample_ts_utc') }} as interval_us,
        -- the method as its code (see energy_method_label): cheaper to carry and compare than text
        case
            when energy_counter_mj is not null and prev_energy_counter_mj is not null
                 and energy_counter_mj >= prev_energy_counter_mj
                 -- mJ <= W x us / 1000: no more than the most any GPU draws in the interval and the lag
                 and energy_counter_mj - prev_energy_counter_mj <= {{ var('max_gpu_power_w') }}
                     * ({{ microseconds_between('prev_ts_utc', 'sample_ts_utc') }} + {{ (var('max_counter_lag_s') | int) * 1000000 }}) / 1000 then 1
            when energy_counter_mj is not null and prev_energy_counter_mj is not null
                 and {{ microseconds_between('prev_ts_utc', 'sample_ts_utc') }} <= {{ max_power_gap_s() }} * 1000000 then 2
            when power_w is not null and prev_power_w is not null
                 and {{ microseconds_between('prev_ts_utc', 'sample_ts_utc') }} <= {{ max_power_gap_s() }} * 1000000 then 3
            else 4
        end as energy_method_code
    from samples
    where prev_ts_utc is not null
)

select
    {{ gpu_key('host', 'gpu_index', 'mig_instance') }} as gpu_key,
    host,
    gpu_index,
    mig_instance,
    prev_ts_utc                                          as interval_start_utc,
    sample_ts_utc                                        as interval_end_utc,
    {{ dbt.date_trunc('hour', 'sample_ts_utc') }}        as hour_utc,
    date_day,
    interval_us / 1e6                                    as interval_s,
    interval_us,
    energy_method_code,
    {{ energy_method_label('energy_method_code') }}      as energy_method,
    case energy_method_code
        when 1 then {{ mj_to_kwh('energy_counter_mj - prev_energy_counter_mj') }}
        when 4 then 0
        else {{ joules_to_kwh('(power_w + prev_power_w) / 2 * interval_us / 1e6') }}
    end                                                  as gpu_energy_kwh,
    case when energy_method_code = 4 then interval_us / 1e6 else 0 end as gap_s,
    case when energy_method_code = 4 then interval_us else 0 end as gap_us
from intervals
where {{ in_run_interval('date_day', 'usage') }}
{%- endmacro %}

{#- The energy method's name for its code (1-4, in order of preference; see gpu_energy_intervals). -#}
{% macro energy_method_label(code) -%}
    case {{ code }} when 1 then 'counter' when 2 then 'counter_reset_integrated' when 3 then 'integrated_power'
         when 4 then 'not_integrated' end
{%- endmacro %}

{#- The longest gap between two power samples that is integrated (s): the var max_power_gap_s when given
    (--vars, a unit test), else the setting GREENOPS_MAX_POWER_GAP_S (which the settings pass to dbt),
    else 120. The environment is read only when dbt executes, like the run's dates (_run_date). -#}
{% macro max_power_gap_s() -%}
    {%- set value = var('max_power_gap_s', none) -%}
    {%- if value is none and execute -%}{%- set value = env_var('GREENOPS_MAX_POWER_GAP_S', '') or none -%}{%- endif -%}
    {%- set value = 120 if value is none else value -%}
    {%- if not modules.re.match('^[0-9]+(\\.[0-9]*)?$', value | string) -%}
        {{ exceptions.raise_compiler_error("max_power_gap_s (GREENOPS_MAX_POWER_GAP_S) must be a number of seconds, 0 or more: " ~ value) }}
    {%- endif -%}
    {{ return(value | float) }}
{%- endmacro %}

{{ config(materialized='view', schema='reporting') }}

-- One row per UTC day x model: energy per million tokens against the model's baseline, and what the
-- difference saved (or cost).
-- Baseline rule: the model's first N UTC days with tokens (dbt var efficiency_baseline_days, default
-- 7): baseline_energy_per_million_tokens_kwh = sum(energy_kwh) x 1e6 / sum(total_tokens) over those
-- days. A fixed baseline (not a trailing one) so that a lasting improvement keeps counting, as in
-- measurement-and-verification practice; until a model has N days its baseline is provisional.
-- energy_avoided_kwh  = (baseline - current kWh per token) x tokens, 0 inside the baseline period
-- cost_avoided_usd    = energy_avoided_kwh x the day's electricity price (energy_cost_usd / energy_kwh)
-- carbon_avoided_kgco2e = energy_avoided_kwh x the day's grid intensity (carbon / energy_kwh)
-- Negative values are energy, cost and carbon spent above the baseline. energy_ = facility energy
-- (GPU x PUE), the energy that is billed and emits.
with energy as (
    select date_day, deployment_id, model_id, total_tokens, gpu_energy_kwh, facility_energy_kwh
    from {{ ref('energy_per_million_tokens') }}
),
cost as (
    select date_day, deployment_id, model_id, energy_cost_usd from {{ ref('cost_per_1k_inferences') }}
),
carbon as (
    select date_day, deployment_id, model_id, carbon_kgco2e_location from {{ ref('carbon_per_inference') }}
),
daily as (
    select
        e.date_day,
        e.model_id,
        -- counts as BIGINT: DuckDB sums them to HUGEINT, which ODBC/JDBC clients (BI tools) mishandle
        cast(sum(e.total_tokens) as {{ dbt.type_bigint() }}) as total_tokens,
        {{ stable_sum('e.gpu_energy_kwh') }}                       as gpu_energy_kwh,
        {{ stable_sum('e.facility_energy_kwh') }}                  as energy_kwh,
        {{ stable_sum('coalesce(k.energy_cost_usd, 0)') }}         as energy_cost_usd,
        {{ stable_sum('coalesce(c.carbon_kgco2e_location, 0)') }}  as carbon_location_based_kgco2e
    from energy e
    left join cost k   on k.date_day = e.date_day and k.deployment_id = e.deployment_id and k.model_id = e.model_id
    left join carbon c on c.date_day = e.date_day and c.deployment_id = e.deployment_id and c.model_id = e.model_id
    group by e.date_day, e.model_id
),
numbered as (
    select
        d.*,
        -- days with tokens so far, this one included: the first N of them are the baseline
        sum(case when d.total_tokens > 0 then 1 else 0 end)
            over (partition by d.model_id order by d.date_day rows between unbounded preceding and current row) as token_day_number
    from daily d
),
flagged as (
    select n.*, n.token_day_number <= {{ var('efficiency_baseline_days', 7) }} as is_baseline_period
    from numbered n
),
with_baseline as (
    select
        f.*,
        {{ per_million(
            stable_sum('case when f.is_baseline_period then f.energy_kwh else 0 end', over='partition by f.model_id'),
            'sum(case when f.is_baseline_period then f.total_tokens else 0 end) over (partition by f.model_id)') }}
            as baseline_energy_per_million_tokens_kwh,
        {{ safe_divide('f.energy_cost_usd', 'f.energy_kwh') }}                  as electricity_price_usd_per_kwh,
        {{ safe_divide('f.carbon_location_based_kgco2e', 'f.energy_kwh') }}     as carbon_intensity_kgco2e_per_kwh
    from flagged f
),
avoided as (
    select
        b.*,
        case when b.is_baseline_period or b.total_tokens = 0 then 0.0
             else b.baseline_energy_per_million_tokens_kwh * b.total_tokens / 1000000.0 - b.energy_kwh
        end as energy_avoided_kwh
    from with_baseline b
)
select
    a.date_day,
    cast({{ dbt.date_trunc('month', 'a.date_day') }} as date)                   as month_start_date,
    a.model_id,
    m.tier                                                                     as model_tier,
    a.is_baseline_period,
    a.total_tokens,
    a.gpu_energy_kwh,
    a.energy_kwh,
    {{ per_million('a.gpu_energy_kwh', 'a.total_tokens') }}                    as gpu_energy_per_million_tokens_kwh,
    {{ per_million('a.energy_kwh', 'a.total_tokens') }}                        as energy_per_million_tokens_kwh,
    a.baseline_energy_per_million_tokens_kwh,
    {{ safe_divide('(' ~ per_million('a.energy_kwh', 'a.total_tokens') ~ ' - a.baseline_energy_per_million_tokens_kwh) * 100.0',
                   'a.baseline_energy_per_million_tokens_kwh') }}             as change_vs_baseline_pct,
    a.electricity_price_usd_per_kwh,
    a.energy_avoided_kwh,
    coalesce(a.energy_avoided_kwh * a.electricity_price_usd_per_kwh, 0)        as cost_avoided_usd,
    coalesce(a.energy_avoided_kwh * a.carbon_intensity_kgco2e_per_kwh, 0)     as carbon_avoided_kgco2e,
    {{ stable_sum('coalesce(a.energy_avoided_kwh * a.electricity_price_usd_per_kwh, 0)',
                  over='partition by a.model_id order by a.date_day rows between unbounded preceding and current row') }} as cumulative_cost_avoided_usd
from avoided a
left join {{ ref('dim_model') }} m on m.model_id = a.model_id

{{ config(materialized='view', schema='reporting') }}

-- One row per calendar month (UTC) x model: where each model sits between business criticality
-- (reference view model_criticality) and energy efficiency.
-- efficiency_index = fleet energy per million tokens / the model's (token-weighted fleet figure of
--                    the month; > 1 = more efficient than the fleet, < 1 = less)
-- quadrant: criticality_score >= 3 is high, efficiency_index >= 1 is efficient:
--   protect (critical, efficient) | optimize (critical, inefficient: invest in batching, caching,
--   quantization) | maintain (not critical, efficient) | rationalize (not critical, inefficient:
--   downsize, consolidate or retire).
-- A large model is less efficient per token than a small one by nature: the quadrant asks whether
-- its criticality justifies that.
with monthly as (
    select
        month_start_date,
        model_id,
        max(model_tier)              as model_tier,
        -- counts as BIGINT: DuckDB sums them to HUGEINT, which ODBC/JDBC clients (BI tools) mishandle
        cast(sum(successful_inferences) as {{ dbt.type_bigint() }}) as successful_inferences,
        cast(sum(total_tokens) as {{ dbt.type_bigint() }}) as total_tokens,
        {{ stable_sum('energy_kwh') }}              as energy_kwh,
        {{ stable_sum('carbon_location_based_kgco2e') }} as carbon_location_based_kgco2e,
        {{ stable_sum('cost_usd') }}                as cost_usd
    from {{ ref('energy_vs_business_kpi') }}
    group by month_start_date, model_id
),
fleet as (
    select month_start_date, {{ per_million(stable_sum('energy_kwh'), 'sum(total_tokens)') }} as fleet_energy_per_million_tokens_kwh
    from monthly
    group by month_start_date
),
criticality as (
    select m.model_id,
           coalesce(c.criticality_score, dflt.criticality_score)   as criticality_score,
           coalesce(c.criticality_label, dflt.criticality_label)   as criticality_label,
           case when c.model_id is null then 'default' else 'reference' end as criticality_source
    from (select distinct model_id from monthly) m
    left join {{ ref('model_criticality') }} c on c.model_id = m.model_id
    cross join (select criticality_score, criticality_label from {{ ref('model_criticality') }} where model_id = '*') dflt
),
scored as (
    select
        mo.*,
        f.fleet_energy_per_million_tokens_kwh,
        {{ per_million('mo.energy_kwh', 'mo.total_tokens') }}  as energy_per_million_tokens_kwh,
        c.criticality_score,
        c.criticality_label,
        c.criticality_source
    from monthly mo
    join fleet f on f.month_start_date = mo.month_start_date
    join criticality c on c.model_id = mo.model_id
),
indexed as (
    select s.*, {{ safe_divide('s.fleet_energy_per_million_tokens_kwh', 's.energy_per_million_tokens_kwh') }} as efficiency_index
    from scored s
)
select
    month_start_date,
    model_id,
    model_tier,
    criticality_score,
    criticality_label,
    criticality_source,
    successful_inferences,
    total_tokens,
    energy_kwh,
    carbon_location_based_kgco2e,
    cost_usd,
    energy_per_million_tokens_kwh,
    fleet_energy_per_million_tokens_kwh,
    efficiency_index,
    criticality_score >= 3                      as is_high_criticality,
    efficiency_index >= 1                       as is_efficient,
    case
        when efficiency_index is null then 'no_tokens'
        when criticality_score >= 3 and efficiency_index >= 1 then 'protect'
        when criticality_score >= 3 then 'optimize'
        when efficiency_index >= 1 then 'maintain'
        else 'rationalize'
    end                                         as quadrant
from indexed

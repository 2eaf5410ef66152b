-- One row per partition day x raw table x reason: how many input rows were quarantined.
{{ config(**table_layout(partition_by='partition_date', granularity='month', cluster_by=['raw_table'])) }}
select
    partition_date,
    raw_table,
    reason_kind,
    count(*)                         as quarantined_rows,
    count(distinct source_file)      as files
from (
    select
        partition_date, raw_table, source_file,
        -- the reason without the offending value, so that like reasons group together
        trim({{ text_before('reason', "':'") }}) as reason_kind
    from {{ ref('stg_pipeline__quarantine') }}
) q
group by partition_date, raw_table, reason_kind

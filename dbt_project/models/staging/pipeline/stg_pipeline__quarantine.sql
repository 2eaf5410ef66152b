-- One row per quarantined input row.
select source as raw_table, partition_date, reason, raw_record, _source_file as source_file,
       _source_line as source_line, _load_id as load_id
from {{ source('raw', 'quarantine') }}

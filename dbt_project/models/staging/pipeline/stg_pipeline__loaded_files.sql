-- One row per landing file of a day of a file-loaded raw table: the lineage its rows share
-- (they carry file_id and their line). Join on raw_table, partition_date and file_id.
select raw_table, partition_date, _file_id as file_id, _source_file as source_file, source_format,
       _load_id as load_id, _loaded_at as loaded_at,
       -- the file as read, and the UTC span of all its rows (every day's, loaded or quarantined)
       file_size_bytes, file_modified_utc, first_ts_utc, last_ts_utc,
       time_zone  -- the zone its local times were read in (nvidia-smi: the host's); NULL when they carry offsets
from {{ source('raw', 'loaded_files') }}

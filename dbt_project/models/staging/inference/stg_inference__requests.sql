-- One row per inference request.
select
    request_id,
    request_ts_utc,
    request_date,
    {{ dbt.date_trunc('hour', 'request_ts_utc') }}          as hour_utc,
    deployment                                               as deployment_id,
    model                                                    as model_id,
    project                                                  as project_id,
    latency_ms,
    prompt_tokens,
    completion_tokens,
    cached_prompt_tokens,
    prompt_tokens + completion_tokens                        as total_tokens,
    status,
    status = 'success'                                       as is_success,
    task_id,
    coalesce(task_completed, false)                          as is_task_completed,
    -- the weight that splits a deployment-hour's energy across projects (docs/methodology.md)
    completion_tokens
        + {{ var('prompt_token_weight') }} * (prompt_tokens - cached_prompt_tokens) as weighted_tokens
from {{ source('raw', 'inference_requests') }}

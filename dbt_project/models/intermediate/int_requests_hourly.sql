-- One row per UTC hour, deployment, model and project: request and token counts (incremental by day:
-- a daily run aggregates its own days' requests, so its cost does not grow with the requests kept).
-- Never fully refreshed, as int_gpu_energy_hourly: raw requests older than their retention setting
-- are gone, so the hours built from them are kept.
{{ config(full_refresh=false, **daily_incremental(cluster_by=['deployment_id', 'model_id'])) }}
select
    hour_utc,
    request_date                                                as date_day,
    deployment_id,
    model_id,
    project_id,
    count(*)                                                    as requests,
    sum(case when is_success then 1 else 0 end)                 as successful_requests,
    sum(case when is_success then 0 else 1 end)                 as failed_requests,
    count(distinct case when is_task_completed then task_id end) as completed_tasks,
    sum(prompt_tokens)                                          as prompt_tokens,
    sum(completion_tokens)                                      as completion_tokens,
    sum(cached_prompt_tokens)                                   as cached_prompt_tokens,
    {{ stable_sum('weighted_tokens') }}                                        as weighted_tokens,
    {{ stable_sum('latency_ms') }}                                             as total_latency_ms
from {{ ref('stg_inference__requests') }}
where {{ in_run_interval('request_date', 'usage') }}
group by hour_utc, request_date, deployment_id, model_id, project_id

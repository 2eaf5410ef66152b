-- One row per UTC hour, deployment, model and project: request and token counts.
select
    hour_utc,
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
group by hour_utc, deployment_id, model_id, project_id

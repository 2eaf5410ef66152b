{#- The one attribution rule of the cloud charge models: a line goes to the deployment its tag/label
    names if the inventory has that deployment for this provider, else to the deployment whose
    inventory resources list the line's resource id; else deployment_id and attributed_by stay NULL
    (the spend is kept, never dropped). A select of every column of `lines` plus deployment_id and
    attributed_by (by_tag or by_resource), for a CTE's body.
    case_insensitive: compare resource ids lower-cased (Azure writes ARM ids in varying case). -#}
{% macro attributed_to_deployments(lines, provider, tag_column, resource_column, by_tag, by_resource,
                                   case_insensitive=false) -%}
    {%- set inventory_ref = 'lower(resource_ref)' if case_insensitive else 'resource_ref' -%}
    {%- set line_ref = 'lower(l.' ~ resource_column ~ ')' if case_insensitive else 'l.' ~ resource_column -%}
    select
        l.*,
        coalesce(k.deployment_id, r.deployment_id)                   as deployment_id,
        case when k.deployment_id is not null then '{{ by_tag }}'
             when r.deployment_id is not null then '{{ by_resource }}' end as attributed_by
    from {{ lines }} l
    left join (
        select distinct deployment_id from {{ ref('stg_inventory__deployment_gpus') }} where provider = '{{ provider }}'
    ) k on k.deployment_id = l.{{ tag_column }}
    left join (
        select distinct deployment_id, {{ inventory_ref }} as resource_ref
        from {{ ref('stg_inventory__deployment_gpus') }}
        where provider = '{{ provider }}' and resource_ref is not null
    ) r on r.resource_ref = {{ line_ref }}
{%- endmacro %}

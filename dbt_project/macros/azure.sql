{#- The columns both Azure usage staging models give (the Consumption API's rows and the export rows
    share raw.azure_*'s usage columns): names, the region key, the hours each unit of measure holds,
    the deployment tag. origin: which route delivered the row; charge_key: the row's identity. -#}
{% macro azure_usage_columns(origin, charge_key) -%}
    {{ origin }}                                                  as origin,
    {{ charge_key }}                                              as charge_key,
    usage_date,
    {{ month_label('usage_date') }}                               as billing_month,
    billing_account_id,
    subscription_id,
    subscription_name,
    resource_group,
    resource_id,
    resource_name,
    resource_location,
    -- 'EastUS2', 'eastus2', 'East US 2' -> 'eastus2'; older spellings ('US East 2') via seed azure_region_aliases
    lower(replace(resource_location, ' ', ''))                    as region_key,
    consumed_service,
    meter_category,
    meter_subcategory,
    meter_name,
    vm_size,
    unit_of_measure,
    quantity,
    -- '1 Hour' -> 1, '10 Hours' -> 10, '100 Hours' -> 100; NULL for units that are not hours
    case when lower(unit_of_measure) like '%hour%'
         then coalesce({{ leading_number('unit_of_measure') }}, 1) end as hours_per_unit,
    cost_billing_currency,
    billing_currency,
    cost_usd,
    coalesce(charge_type, 'Usage')                                as charge_type,
    pricing_model,
    tags,
    {{ json_text('tags', 'deployment') }}                         as deployment_tag,
    _source_file,
    _source_line
{%- endmacro %}

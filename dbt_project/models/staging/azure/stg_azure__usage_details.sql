-- One row per Consumption API usage detail (legacy and modern kinds), in the Azure usage columns
-- shared with the exports (macro azure_usage_columns). Costs are Azure's actual cost (the API's
-- default metric); the item's ARM id is its identity.
select
    {{ azure_usage_columns("'consumption_api'", 'usage_detail_id') }}
from {{ source('raw', 'azure_usage_details') }}

-- One row per Cost Management export row (ActualCost, AmortizedCost; EA and MCA column names already
-- unified at load), in the Azure usage columns shared with the Consumption API (macro
-- azure_usage_columns). origin: export_actual (ActualCost, and the older Usage dataset, which is
-- actual cost) or export_amortized (AmortizedCost: reservation and savings-plan purchases spread over
-- the usage they cover). A row's identity is its file and line.
select
    {{ azure_usage_columns(
        "case when dataset = 'AmortizedCost' then 'export_amortized' else 'export_actual' end",
        dbt.concat(["billing_period", "'|'", "_source_file", "'|'", "cast(_source_line as " ~ dbt.type_string() ~ ")"])) }}
from {{ source('raw', 'azure_cost_details') }}

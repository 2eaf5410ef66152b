{#- Conservation: sum(column) over this model equals sum(compare_column) over another, within a
    relative tolerance (floating-point sums in a different order differ in the last digits).
    compare_where: the other model's rows to compare (the run placeholders of macro run_where apply),
    matching this test's own `where`, so that a daily run checks the days it rebuilt. -#}
{% test equal_total(model, column_name, compare_model, compare_column, relative_tolerance=1e-9, compare_where=none) %}
with a as (select coalesce(sum({{ column_name }}), 0) as total from {{ model }}),
     b as (select coalesce(sum({{ compare_column }}), 0) as total from {{ compare_model }}
           {%- if compare_where %} where {{ run_where(compare_where) }}{% endif %})
select a.total as model_total, b.total as compare_total
from a cross join b
where abs(a.total - b.total) > {{ relative_tolerance }} * greatest(abs(a.total), abs(b.total), 1e-12)
{% endtest %}

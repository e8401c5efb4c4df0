{#- Generic data tests used in the models' .yml files. -#}

{% test between(model, column_name, min_value, max_value) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}


{% test shares_sum_to_one(model, columns) %}
select *
from {{ model }}
where abs(({{ columns | join(' + ') }}) - 1.0) > 1e-9
{% endtest %}


{#- the columns together identify a row (dbt_utils' unique_combination_of_columns, without the package:
    dbt deps would need the network) -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

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

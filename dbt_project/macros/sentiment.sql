{#- positive / negative / neutral for a VADER compound score, at the project's threshold
    (var sentiment_threshold in dbt_project.yml, VADER's own convention: 0.05) -#}
{% macro sentiment_label(score) -%}
  case
    when {{ score }} >= {{ var('sentiment_threshold') }} then 'positive'
    when {{ score }} <= -{{ var('sentiment_threshold') }} then 'negative'
    else 'neutral'
  end
{%- endmacro %}

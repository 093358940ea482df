{#
  JSON access, the DuckDB-specific part of staging, behind adapter-dispatched macros
  (ARCHITECTURE.md decision 7). `path` is a JSONPath like '$.context.page.url'.

  json_extract_string(expr, path)
      the value at `path` as text (numbers and booleans as their JSON text, objects/arrays as JSON text);
      JSON null or a missing key -> null.
  unnest_json_array(expr, element, position, alias='elements')
      a FROM-clause fragment to put right after the relation holding `expr`: one row per element of the
      JSON array `expr` (none when it is null or not an array), exposing `<alias>.<element>` (JSON) and
      `<alias>.<position>` (1-based).
#}

{% macro json_extract_string(expr, path) -%}
    {{ return(adapter.dispatch('json_extract_string', 'customer360')(expr, path)) }}
{%- endmacro %}

{% macro default__json_extract_string(expr, path) -%}
    get_json_object({{ expr }}, '{{ path }}')
{%- endmacro %}

{% macro duckdb__json_extract_string(expr, path) -%}
    json_extract_string({{ expr }}, '{{ path }}')
{%- endmacro %}


{% macro unnest_json_array(expr, element, position, alias='elements') -%}
    {{ return(adapter.dispatch('unnest_json_array', 'customer360')(expr, element, position, alias)) }}
{%- endmacro %}

{% macro default__unnest_json_array(expr, element, position, alias) -%}
    {#- Spark SQL: JSON kept as text; each element back to JSON text, with a 1-based position. -#}
    lateral view inline(
        transform(from_json({{ expr }}, 'array<string>'), (x, i) -> named_struct('p', i + 1, 'e', x))
    ) {{ alias }} as {{ position }}, {{ element }}
{%- endmacro %}

{% macro duckdb__unnest_json_array(expr, element, position, alias) -%}
    cross join lateral unnest(
        case when json_type({{ expr }}) = 'ARRAY' then cast({{ expr }} as json[]) end
    ) with ordinality as {{ alias }}({{ element }}, {{ position }})
{%- endmacro %}

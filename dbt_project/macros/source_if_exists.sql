{#
  source_if_exists(source_name, table_name, columns)
      The source table if it exists, else an empty relation with `columns` (a mapping name -> SQL type).
      For tables the pipeline writes outside dbt (segment history, predictions): a first build, or a dbt
      build run by hand before them, gives empty results instead of an error. source() is always called, so
      the dependency is recorded when parsing.
#}
{% macro source_if_exists(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
        identifier=relation.identifier) if execute else relation -%}
    {%- if found is not none -%}
        {{ relation }}
    {%- else -%}
        (select
        {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0)
    {%- endif -%}
{%- endmacro %}

{#
  Use a model's custom schema name as-is (schema `staging`, not `main_staging`), so the warehouse's
  schemas are exactly those of ARCHITECTURE.md: raw, staging, intermediate, marts, segments, ...
  Models without a custom schema land in the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

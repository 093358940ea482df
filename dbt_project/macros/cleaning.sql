{#
  Row-level cleaning shared by the staging models. Portable SQL, except to_utc_timestamp (dispatched).

  normalize_email(expr)    lower(trim(email)), empty -> null: the join key of identity resolution
  clean_string(expr)       trim, empty -> null
  clean_code(expr)         lower(trim()), empty -> null: enumerations (statuses, channels, tiers ...)
  type_money()             the decimal type of money amounts
  to_money(expr)           a money amount (text or number) as decimal; unparseable -> null
  to_utc_timestamp(expr)   a timestamp with time zone as a UTC timestamp without zone, independent of
                           the session's TimeZone (views are evaluated in the reader's session)
#}

{% macro normalize_email(expr) -%}
    nullif(lower(trim({{ expr }})), '')
{%- endmacro %}


{% macro clean_string(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}


{% macro clean_code(expr) -%}
    nullif(lower(trim({{ expr }})), '')
{%- endmacro %}


{% macro type_money() -%}
    decimal(18, 2)
{%- endmacro %}


{% macro to_money(expr) -%}
    {{ dbt.safe_cast(expr, type_money()) }}
{%- endmacro %}


{% macro to_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'customer360')(expr)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(expr) -%}
    {#- Spark and most engines: a timestamp is an instant, the session time zone is set to UTC. -#}
    cast({{ expr }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__to_utc_timestamp(expr) -%}
    {#- DuckDB-specific: timezone('UTC', timestamptz) -> TIMESTAMP in UTC, whatever the session TimeZone. -#}
    timezone('UTC', {{ expr }})
{%- endmacro %}


{#
  parse_utc_timestamp(expr)  an ISO-8601 text with offset ('2026-02-01T18:03:11+01:00', '...Z'), e.g. from
                             inside a JSON value, as a UTC timestamp without zone; unparseable -> null.
#}
{% macro parse_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'customer360')(expr)) }}
{%- endmacro %}

{% macro default__parse_utc_timestamp(expr) -%}
    to_timestamp({{ expr }})
{%- endmacro %}

{% macro duckdb__parse_utc_timestamp(expr) -%}
    {#- DuckDB-specific: via TIMESTAMPTZ so the offset is honoured (a cast to TIMESTAMP would drop it). -#}
    timezone('UTC', try_cast({{ expr }} as timestamptz))
{%- endmacro %}


{#
  lineage_columns()  the raw layer's lineage, renamed, for the end of every staging select:
  source_record (the original record as JSON: fields the contract does not know stay reachable),
  source_file (landing path), source_line, loaded_at (UTC), export_date (the landing file's date).
#}
{% macro lineage_columns() -%}
        _record as source_record,
        _file as source_file,
        _line as source_line,
        {{ to_utc_timestamp('_loaded_at') }} as loaded_at,
        dt as export_date
{%- endmacro %}

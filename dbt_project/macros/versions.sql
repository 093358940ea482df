{#
  Tables unnested from a versioned parent (the lines and fulfillments of each shop order's chosen version),
  kept incrementally on DuckDB: a run unnests only the parent rows whose version is not stored yet.
  A version is named by its raw row, (source_file, source_line), which never changes (macros/dedupe.sql).

  versions_not_stored(relation, key)
      the rows of `relation` (the parent) whose (key, source_file, source_line) is not in this model's own
      table: new parents and parents with a new chosen version. The model's delete+insert by `key` then
      replaces every stored row of those parents. A table stored before it had the version columns (an
      older release) gets every parent: the run rebuilds it, no --full-refresh needed.
  delete_stale_versions(parent, key)
      a post-hook statement: delete this model's rows whose version is no longer the parent's (the parent
      is gone, e.g. a past date rebuilt, or its new version has no row here to replace them).
#}

{% macro versions_not_stored(relation, key) -%}
    {#- (a unit test's `this` is its fixture's name, a string) -#}
    {%- set stored_columns = [] if this is string
        else adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list %}
    {%- if stored_columns and 'source_line' not in stored_columns %}
    -- stored before versions were tracked here: every parent, whose rows delete+insert all replace (and
    -- on_schema_change adds the version columns)
    select * from {{ relation }}
    {%- else %}
    select parent.*
    from {{ relation }} as parent
    left join (
        select distinct {{ key }}, source_file, source_line from {{ this }}
    ) as stored
        on stored.{{ key }} = parent.{{ key }}
        and stored.source_file = parent.source_file
        and stored.source_line = parent.source_line
    where stored.{{ key }} is null
    {%- endif %}
{%- endmacro %}


{% macro delete_stale_versions(parent, key) -%}
    delete from {{ this }}
    where not exists (
        select 1 from {{ parent }} as parent
        where parent.{{ key }} = {{ this }}.{{ key }}
            and parent.source_file = {{ this }}.source_file
            and parent.source_line = {{ this }}.source_line
    )
{%- endmacro %}

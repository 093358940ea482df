{#
  validate_segment_meta(): run at the start of every dbt invocation (on-run-start). Every model in
  models/segments/ must be named seg_<name>, carry the generic tests segment_rules and
  segment_holdout_stable, and declare a valid meta (schema: dbt_project/README.md, "Segments"). A wrong meta
  stops the build with a message naming the segment and the field, before anything is built or synced.
#}

{% macro validate_segment_meta() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {#- raises on a global holdout share that is not a number in [0, 1), before anything is built -#}
    {%- do global_holdout_share() -%}
    {%- set errors = [] -%}
    {%- set tested = {} -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'test' and node.test_metadata -%}
        {%- for parent in node.depends_on.nodes -%}
            {%- do tested.setdefault(parent, []).append(node.test_metadata.name) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name and node.fqn[1] == 'segments' -%}
        {%- do errors.extend(segment_meta_errors(node, tested.get(node.unique_id, []))) -%}
    {%- endfor -%}
    {%- if errors -%}
        {{ exceptions.raise_compiler_error("Invalid segment definition:\n  - " ~ (errors | join("\n  - "))) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}


{% macro segment_meta_errors(node, tests) %}
    {%- set name = node.name -%}
    {%- set errors = [] -%}
    {%- set meta = node.config.meta or {} -%}
    {%- set segment = meta.get('segment') -%}
    {%- set activation = meta.get('activation') -%}
    {%- set columns = node.columns.keys() | list -%}
    {%- if not name.startswith('seg_') -%}
        {%- do errors.append(name ~ ": a model in models/segments/ must be named seg_<name>") -%}
    {%- endif -%}
    {%- for test in ['segment_rules', 'segment_holdout_stable'] if test not in tests -%}
        {%- do errors.append(name ~ ": data_tests must include " ~ test) -%}
    {%- endfor -%}
    {%- if segment is not mapping -%}
        {%- do errors.append(name ~ ": meta.segment is missing (purpose, holdout_share)") -%}
    {%- else -%}
        {%- if segment.get('purpose') not in ['marketing', 'service'] -%}
            {%- do errors.append(name ~ ": meta.segment.purpose must be marketing or service, got " ~ segment.get('purpose')) -%}
        {%- endif -%}
        {%- set share = segment.get('holdout_share') -%}
        {%- if share is none or share is not number or share < 0 or share >= 1 -%}
            {%- do errors.append(name ~ ": meta.segment.holdout_share must be a number in [0, 1), got " ~ share) -%}
        {%- endif -%}
        {%- do errors.extend(segment_promotes_errors(name, segment, columns)) -%}
    {%- endif -%}
    {%- if activation is not mapping -%}
        {%- do errors.append(name ~ ": meta.activation is missing (identifier, mode, destinations, fields)") -%}
    {%- else -%}
        {%- if activation.get('identifier') not in ['email', 'customer_key'] -%}
            {%- do errors.append(name ~ ": meta.activation.identifier must be email or customer_key, got " ~ activation.get('identifier')) -%}
        {%- endif -%}
        {%- if activation.get('mode') not in ['upsert', 'mirror'] -%}
            {%- do errors.append(name ~ ": meta.activation.mode must be upsert or mirror, got " ~ activation.get('mode')) -%}
        {%- endif -%}
        {%- set destinations = activation.get('destinations') -%}
        {%- if destinations is string or destinations is not iterable or (destinations | length) == 0 -%}
            {%- do errors.append(name ~ ": meta.activation.destinations must be a non-empty list") -%}
        {%- else -%}
            {%- for destination in destinations if destination not in ['file', 'klaviyo', 'mailchimp'] -%}
                {%- do errors.append(name ~ ": meta.activation.destinations: unknown destination " ~ destination ~ " (file, klaviyo, mailchimp)") -%}
            {%- endfor -%}
        {%- endif -%}
        {%- if activation.get('list_name') is not none and activation.get('list_name') is not string -%}
            {%- do errors.append(name ~ ": meta.activation.list_name must be a string") -%}
        {%- endif -%}
        {%- set fields = activation.get('fields') -%}
        {%- if fields is not mapping or (fields | length) == 0 -%}
            {%- do errors.append(name ~ ": meta.activation.fields must map destination properties to columns") -%}
        {%- else -%}
            {%- for property, column in fields.items() if column not in columns -%}
                {%- do errors.append(name ~ ": meta.activation.fields." ~ property ~ ": " ~ column ~ " is not a column of the model") -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(errors) }}
{% endmacro %}


{#- meta.segment.promotes: what the segment's messages advertise, so the subscription rule (Marshall) reads a
    declaration instead of guessing from column names. Required for marketing: `none`, or a mapping of
    `category` and/or `product_id` to the model's columns. Service segments promote nothing. -#}
{% macro segment_promotes_errors(name, segment, columns) %}
    {%- set errors = [] -%}
    {%- set promotes = segment.get('promotes') -%}
    {%- set field = name ~ ": meta.segment.promotes" -%}
    {%- if segment.get('purpose') == 'marketing' and promotes is none -%}
        {%- do errors.append(field ~ " is required for a marketing segment: none, or the columns holding the"
            ~ " promoted category and/or product_id") -%}
    {%- elif segment.get('purpose') == 'service' and promotes is not none and promotes != 'none' -%}
        {%- do errors.append(field ~ ": a service segment promotes nothing (none or absent)") -%}
    {%- elif promotes is mapping -%}
        {%- if (promotes | length) == 0 -%}
            {%- do errors.append(field ~ ": an empty mapping; write none when nothing is promoted") -%}
        {%- endif -%}
        {%- for item, column in promotes.items() -%}
            {%- if item not in ['category', 'product_id'] -%}
                {%- do errors.append(field ~ "." ~ item ~ ": unknown item (category, product_id)") -%}
            {%- elif column not in columns -%}
                {%- do errors.append(field ~ "." ~ item ~ ": " ~ column ~ " is not a column of the model") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- elif promotes is not none and promotes != 'none' -%}
        {%- do errors.append(field ~ " must be none or a mapping of category / product_id to columns, got "
            ~ promotes) -%}
    {%- endif -%}
    {{ return(errors) }}
{% endmacro %}

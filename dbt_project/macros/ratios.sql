{#
  safe_ratio(numerator, denominator)
      numerator / denominator as a double (type_double(), macros/types.sql); null when the denominator is 0
      or null (a rate of nobody is unknown, not 0). Rates and shares of the retention marts.
#}

{% macro safe_ratio(numerator, denominator) -%}
    case
        when {{ denominator }} > 0
            then cast({{ numerator }} as {{ type_double() }}) / cast({{ denominator }} as {{ type_double() }})
    end
{%- endmacro %}

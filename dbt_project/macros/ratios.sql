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


{#
  money_divide(numerator, denominator)
      a money amount divided by a count, rounded half away from zero to the cent, as type_money(); null
      when the denominator is 0 or null. Exact on both engines: DuckDB divides decimals as doubles (454.83 / 3
      became 151.60 there, 151.61 on Spark), so on DuckDB it divides whole cents as integers; Spark divides
      decimals exactly (scale 13 here) and rounds half up.
#}
{% macro money_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('money_divide', 'customer360')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__money_divide(numerator, denominator) -%}
    case
        when {{ denominator }} <> 0 then cast(round(
            cast({{ numerator }} as decimal(20, 2)) / cast({{ denominator }} as decimal(10, 0)), 2
        ) as {{ type_money() }})
    end
{%- endmacro %}

{% macro duckdb__money_divide(numerator, denominator) -%}
    case
        when {{ denominator }} <> 0 then cast(
            cast(
                sign(cast({{ numerator }} as decimal(20, 2))) * sign({{ denominator }})
                * ((2 * abs(cast(cast({{ numerator }} as decimal(20, 2)) * 100 as hugeint)) + abs({{ denominator }}))
                   // (2 * abs({{ denominator }})))
            as decimal(38, 0)) * 0.01
        as {{ type_money() }})
    end
{%- endmacro %}

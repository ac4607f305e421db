{#- A regular expression as a string literal the engine hands to its regex
    library unchanged. engines.md §2.2 (5): Spark processes backslash escapes
    in literals, Snowflake too unless $$-quoted, BigQuery recommends raw
    strings; DuckDB and Postgres take '...' literally. -#}
{% macro regex_literal(pattern) %}
  {{- return(adapter.dispatch('regex_literal', 'tiktok_sync')(pattern)) -}}
{% endmacro %}

{% macro default__regex_literal(pattern) -%}
  '{{ pattern | replace("'", "''") }}'
{%- endmacro %}

{#- Snowflake: a single-quoted literal, not $$...$$. A $$ literal ends at the
    first $$, so a pattern ending in `$` ($$^(...)$$$) or holding `$$` broke
    the statement. In single quotes Snowflake reads backslash escapes
    (docs.snowflake.com/en/sql-reference/data-types-text#escape-sequences-in-single-quoted-string-constants:
    \t \n \f \r \xhh ..., an unknown `\v` becomes a bare `v`), so every
    regex backslash is doubled and the quote escaped - except the whitespace
    escapes \t \n \v \f \r, which become the SQL escapes of the characters
    themselves (\v as \x0B). Snowflake documents its regex as POSIX ERE plus
    \d \s \w \b (docs.snowflake.com/en/sql-reference/functions-regexp), and in
    POSIX a backslash inside [...] is an ordinary character: `[\t ]` could
    also delete every `t`. A literal tab inside [...] means a tab everywhere. -#}
{% macro snowflake__regex_literal(pattern) -%}
  {%- set control = {'t': '\\t', 'n': '\\n', 'v': '\\x0B', 'f': '\\f', 'r': '\\r'} -%}
  {%- set out = [] -%}
  {%- for token in modules.re.findall('\\\\.|.', pattern, modules.re.DOTALL) -%}
    {%- if token | length == 2 and token[1] in control -%}
      {%- do out.append(control[token[1]]) -%}
    {%- elif token | length == 2 -%}
      {%- do out.append('\\\\' ~ token[1]) -%}
    {%- elif token == "'" -%}
      {%- do out.append("\\'") -%}
    {%- elif token == '\\' -%}
      {%- do out.append('\\\\') -%}
    {%- else -%}
      {%- do out.append(token) -%}
    {%- endif -%}
  {%- endfor -%}
  '{{ out | join('') }}'
{%- endmacro %}

{% macro bigquery__regex_literal(pattern) -%}
  {%- if "'" in pattern -%} r"{{ pattern }}" {%- else -%} r'{{ pattern }}' {%- endif -%}
{%- endmacro %}

{% macro spark__regex_literal(pattern) -%}
  '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{#- Redshift reads backslash escapes in ordinary string literals, as
    PostgreSQL 8.0 did (it has no E'...' form): its docs double every regex
    backslash in SQL ('@.*\\.(org|gov|com|edu|ca)$',
    https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_REPLACE.html; "escape
    the character using two backslashes",
    https://docs.aws.amazon.com/redshift/latest/dg/pattern-matching-conditions-posix.html).
    The default '...' would hand remove_whitespace's [\t\n\v\f\r ] over as
    tab, line feed, form feed, carriage return and a plain `v` (\v is no string
    escape): every `v` of an email deleted before hashing. So every regex
    backslash is doubled and the quote doubled, except the whitespace escapes
    \t \n \v \f \r, which are written as the characters themselves: inside [...]
    any POSIX engine reads a character as itself, so this does not depend on
    whether Redshift's regex engine knows \v or \f in a bracket expression. -#}
{% macro redshift__regex_literal(pattern) -%}
  {%- set control = {'t': '\t', 'n': '\n', 'v': '\x0b', 'f': '\x0c', 'r': '\r'} -%}
  {%- set out = [] -%}
  {%- for token in modules.re.findall('\\\\.|.', pattern, modules.re.DOTALL) -%}
    {%- if token | length == 2 and token[1] in control -%}
      {%- do out.append(control[token[1]]) -%}
    {%- elif token | length == 2 -%}
      {%- do out.append('\\\\' ~ token[1]) -%}
    {%- elif token == "'" -%}
      {%- do out.append("''") -%}
    {%- elif token == '\\' -%}
      {%- do out.append('\\\\') -%}
    {%- else -%}
      {%- do out.append(token) -%}
    {%- endif -%}
  {%- endfor -%}
  '{{ out | join('') }}'
{%- endmacro %}

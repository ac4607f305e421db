{#- A regular expression as a string literal the engine hands to its regex
    library unchanged. Spark processes backslash escapes
    in literals, Snowflake too unless $$-quoted, BigQuery recommends raw
    strings; DuckDB and Postgres take '...' literally. A code point is written
    `\x{hhhh}` (RE2 and Java read it so: DuckDB, BigQuery, Spark); the engines
    whose regex does not spell it that way get it in their own spelling below. -#}
{% macro regex_literal(pattern) %}
  {{- return(adapter.dispatch('regex_literal', 'tiktok_sync')(pattern)) -}}
{% endmacro %}

{% macro default__regex_literal(pattern) -%}
  '{{ pattern | replace("'", "''") }}'
{%- endmacro %}

{#- Postgres: its regex (ARE) reads a code point as \uhhhh, not \x{hhhh}
    (https://www.postgresql.org/docs/current/functions-matching.html, "Regular
    Expression Escapes"), valid inside [...] too. -#}
{% macro postgres__regex_literal(pattern) -%}
  {{ tiktok_sync.default__regex_literal(modules.re.sub('\\\\x\\{([0-9a-fA-F]{4})\\}', '\\\\u\\1', pattern)) }}
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
    also delete every `t`. A literal tab inside [...] means a tab everywhere.
    A code point \x{hhhh} becomes CHR(n) concatenated into the literal:
    Snowflake's CHR takes a Unicode code point
    (https://docs.snowflake.com/en/sql-reference/functions/chr), while its
    regex has no code point escape and a \uhhhh string escape is not read
    the same by every client and local double. -#}
{% macro snowflake__regex_literal(pattern) -%}
  {%- set control = {'t': '\\t', 'n': '\\n', 'v': '\\x0B', 'f': '\\f', 'r': '\\r'} -%}
  {%- set out = [] -%}
  {%- for token in modules.re.findall('\\\\x\\{[0-9a-fA-F]+\\}|\\\\.|.', pattern, modules.re.DOTALL) -%}
    {%- if token | length > 2 -%}
      {%- do out.append("' || chr(" ~ (token[3:-1] | int(base=16)) ~ ") || '") -%}
    {%- elif token | length == 2 and token[1] in control -%}
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
  {%- set literal = "'" ~ out | join('') ~ "'" -%}
  {%- if "' || chr(" in literal -%} ({{ literal | replace(" || '' || ", " || ") }}) {%- else -%} {{ literal }} {%- endif -%}
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
    whether Redshift's regex engine knows \v or \f in a bracket expression.
    A code point \x{hhhh} is written as the character too: Redshift's CHR
    returns NULL beyond ASCII (https://docs.aws.amazon.com/redshift/latest/dg/r_CHR.html),
    its POSIX regex has no code point escape, and it stores and reads SQL text
    only as UTF-8 (no client encoding to re-encode it). -#}
{% macro redshift__regex_literal(pattern) -%}
  {%- set control = {'t': '\t', 'n': '\n', 'v': '\x0b', 'f': '\x0c', 'r': '\r'} -%}
  {%- set out = [] -%}
  {%- for token in modules.re.findall('\\\\x\\{[0-9a-fA-F]+\\}|\\\\.|.', pattern, modules.re.DOTALL) -%}
    {%- if token | length > 2 -%}
      {%- do out.append('%c' | format(token[3:-1] | int(base=16))) -%}
    {%- elif token | length == 2 and token[1] in control -%}
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

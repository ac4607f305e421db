{#- Extensions, tel: URIs and letters, as libphonenumber's parse() reads them, for both
    phone normalisers (phone_e164.sql, phone_e164_duckdb.sql). They run only
    on values that hold more than digits, whitespace, - . ( ) / and a leading +.

    _phone_without_extension(raw) is the value with its whitespace deleted and
    a trailing extension removed. libphonenumber looks for the extension on
    the value as written, with separators: "x 12 34" is no extension (its
    digits must be contiguous), "x1234" is one. So every whitespace character
    becomes a space first (the rule: whitespace is a separator, nothing
    more), the extension pattern runs on that, and whitespace goes last.

    The pattern is the ASCII part of libphonenumber's extension pattern for
    parsing (phonenumberutil.py, _create_extn_pattern(True)), its letters
    written as [xX] because that pattern is case-insensitive:
      ;ext=12 (RFC 3966)                                 up to 20 digits
      ext 12, ext. 12, extn 12, extension 12, xt 12, anexo 12   up to 20
      x12, # 12, ~12, int 12                              up to 9
      - 503# (a hash at the end, American style)          up to 6
      ,,12 and ;12 (dialled after the call connects)      up to 15
      ,12                                                 up to 9
    each optionally followed by "#", the labels by "." or ":" and the
    separators " , -" as libphonenumber allows them. libphonenumber takes the
    leftmost place from which the pattern matches to the end, and so does
    every engine's regexp_replace with the pattern anchored at the end: the
    part before it is the same on both sides. libphonenumber first drops
    trailing characters that are neither letters, digits nor "#"; the
    pattern allows the ASCII ones a number may hold, - ( ) . and space,
    after the extension. An extension in any other form (non-ASCII labels
    such as "доб", full-width letters, more digits than the limit, other
    trailing characters) is not matched, as libphonenumber does not strip
    it either: its label stays in the value, its digits join the number (one
    or two letters are dropped, see below; usually the row is then too long)
    or its characters are rejected as phone_invalid_characters. libphonenumber removes
    an extension only when what precedes it has 3 digits or more; a number
    the SQL hashes has at least 5 there.

    A leading "tel:" (an RFC 3966 URI, tel:+44-20-7183-8750;ext=12) goes too:
    libphonenumber discards whatever precedes the first digit or "+". A URI
    with parameters other than ext (";phone-context=", ";isub=") keeps its
    ";" and is rejected: libphonenumber reads those differently. -#}
{% macro _phone_without_extension(raw) -%}
{%- set extension = (
    ';[eE][xX][tT]=[0-9]{1,20}'
    ~ '|[ ,]*([eE]?[xX][tT]([eE][nN][sS][iI][oO])?[nN]?|[aA][nN][eE][xX][oO])[.:]?[ ,-]*[0-9]{1,20}#?'
    ~ '|[ ,]*([xX]|#|~|[iI][nN][tT])[.:]?[ ,-]*[0-9]{1,9}#?'
    ~ '|[- ]+[0-9]{1,6}#'
    ~ '| *(,,|;)[.:]?[ ,-]*[0-9]{1,15}#?'
    ~ '| *,+[.:]?[ ,-]*[0-9]{1,9}#?'
) -%}
{%- set spaced = tiktok_sync.remove_whitespace(raw, ' ') -%}
{%- set without_uri_scheme = tiktok_sync.regex_replace_all(spaced, '^ *[tT][eE][lL]:', '') -%}
{{ tiktok_sync.remove_whitespace(tiktok_sync.regex_replace_all(without_uri_scheme, '(' ~ extension ~ ')[-(). ]*$', '')) }}
{%- endmacro %}

{#- The value (a column: it is read several times; whitespace and extension
    already removed) with its ASCII letters as libphonenumber's _normalize
    reads them: with 3 letters or more anywhere (_VALID_ALPHA_PHONE_PATTERN),
    each is its digit on the phone keypad (ITU E.161: ABC 2 ... WXYZ 9, upper
    or lower case), as in 1-800-FLOWERS = 1-800-3569377; with 1 or 2 they are
    dropped. Only where libphonenumber reads the value as a number: an
    optional "(" and "+", at least 3 digits before the first letter
    (_VALID_PHONE_NUMBER: letters only after 3 digits; what comes before the
    first digit it discards, which the SQL does not do), and then only
    digits, letters and - ( ) . ("/" is left out: libphonenumber cuts a
    value at "/x" as the start of a second number). Any other value comes
    back unchanged, so a letter in it is rejected as phone_invalid_characters. -#}
{% macro _phone_keypad_value(value) -%}
case
    when not {{ tiktok_sync.regex_full_match(value, '[(]?[+]?([-().]*[0-9]){3}[-0-9().A-Za-z]*') }} then {{ value }}
    when {{ tiktok_sync.regex_full_match(value, '[^A-Za-z]*([A-Za-z][^A-Za-z]*){3,}') }}
        then translate({{ value }}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
            '2223334445556667777888999922233344455566677778889999')
    else {{ tiktok_sync.regex_replace_all(value, '[A-Za-z]', '') }}
end
{%- endmacro %}

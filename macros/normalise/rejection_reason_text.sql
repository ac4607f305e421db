{#- The one-line reason (what is wrong, what to do) of the rejection code in
    the SQL expression `reason_code`; null when it is null. -#}
{% macro rejection_reason_text(reason_code) %}
case {{ reason_code }}
    {%- for code, text in tiktok_sync.rejection_reasons().items() %}
    when '{{ code }}' then {{ tiktok_sync.string_literal(text) }}
    {%- endfor %}
end
{%- endmacro %}

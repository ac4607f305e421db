{#- Every reason_code phone_normalised_select() can return: code -> one line
    that says what is wrong and what to do. Codes are stable; texts may
    improve. docs/normalisation-phone.md explains each rule. -#}
{% macro phone_rejection_reasons() %}
  {{- return({
    'phone_invalid_characters': 'Phone contains something other than digits, spaces, a leading +, and - . ( ) /, an extension such as "ext 12" and keypad letters such as 1-800-FLOWERS (letters before the third digit, an extension in another form, emoji, full-width digits, control characters). Keep only the number itself.',
    'phone_no_country': 'Phone is written without + or 00 and the row has no country_code (and tiktok_sync_default_phone_country is not set). Give the country or write the number as +<country code><number>.',
    'phone_unknown_country': 'The row country_code is not an ISO-3166 alpha-2 code libphonenumber knows (e.g. UK instead of GB). Fix the country or write the number with +.',
    'phone_unknown_calling_code': 'After + (or 00) the digits do not start with a country calling code of a country (+0..., non-geographic +800/+808/+870/+878/+881-883/+888/+979). Check the country code.',
    'phone_national_format_unsupported': 'The number starts with a carrier-selection or special dialling prefix (e.g. GB 180020, BR 0+carrier, AR area code+15) that cannot be removed safely. Write it as +<country code><number> without those digits.',
    'phone_ambiguous_prefix': 'Cannot tell whether the leading digits are an international prefix, a trunk prefix or the country code, or part of the number. Write it as +<country code><number>.',
    'phone_too_short': 'Too few digits for a phone number of its country (E.164 numbers sent to TikTok have 8 to 15 digits). Check for missing digits.',
    'phone_too_long': 'Too many digits for a phone number of its country (at most 15 in E.164). Check for two numbers in one field or an extension.',
    'phone_invalid_length': 'The number of digits is not one a number of this country can have (a leading trunk prefix 0 left over, or digits missing). Check the number.',
    'phone_invalid_number': 'The number has a possible length but is no number of its country (libphonenumber calls it invalid): a digit wrong, missing or extra, or the wrong country. Check the number and its country.',
  }) -}}
{% endmacro %}

{#- The package's calling-code lookup as a model, so the unit tests of the
    wrappers can give it as an input (`ref('country_calling_codes')`) and the
    data tests in _country_calling_codes__models.yml check the generated rows.
    Audience models do not read it: they inline the same macro. -#}
{{ tiktok_sync.country_calling_codes() }}

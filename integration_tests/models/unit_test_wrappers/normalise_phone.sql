{#- The phone normaliser over the first phone corpus (libphonenumber's example numbers
    written every way, and hostile values), so dbt unit tests can pin its rules and
    tests/test_phone_parity.py can compare it with libphonenumber row by row. -#}
{{ phone_corpus_normalised(ref('phone_corpus'), ref('country_calling_codes'), escaped=true) }}

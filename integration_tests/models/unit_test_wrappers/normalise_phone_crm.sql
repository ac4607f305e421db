{#- The phone normaliser over the second phone corpus (numbers as CRMs hold them, valid and
    invalid; scripts/generate_phone_crm_corpus.py), which tests/test_phone_parity.py compares
    with libphonenumber row by row and every engine builds (tests/engines/). -#}
{{ phone_corpus_normalised(ref('phone_corpus_crm'), ref('country_calling_codes')) }}

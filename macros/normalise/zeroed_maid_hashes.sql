{#- Hashes of the all-zero advertising id, keyed by hex length: the SHA-256
    (64) and MD5 (32) of its canonical form 00000000-0000-0000-0000-000000000000
    and of the form without hyphens. iOS and Android report the all-zero id
    when the user limited ad tracking; hashed upstream it still identifies
    nobody (or everybody with tracking off), so it is rejected as maid_zeroed
    in the advertising-id columns, raw or pre-hashed.
    tests/reference_normalisation.py computes them again. -#}
{% macro zeroed_maid_hashes() %}
  {{ return({
    64: ['12b9377cbe7e5c94e8a70d9d23929523d14afa954793130f8a3959c7b849aca8',
         '84e0c0eafaa95a34c293f278ac52e45ce537bab5e752a00e6959a13ae103b65a'],
    32: ['9f89c84a559f573636a47ff8daed0d33',
         'cd9e459ea708a948d5c2f5a6ca8838cf'],
  }) }}
{% endmacro %}

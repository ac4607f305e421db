{#- Every value of the suppression list normalises to an identifier: a
    rejected one (a mistyped opt-out, a phone without a country) suppresses
    nothing, so the build says how many there are and why (configured to
    warn in models/sync/_sync__models.yml: one bad entry must not stop the
    build that applies the good ones). -#}
{% test suppression_values_normalise(model) %}
select source_column, reason_code, reason, value_fingerprint
from {{ model }}
where reason_code is not null
{% endtest %}

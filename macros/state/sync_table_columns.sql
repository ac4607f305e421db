{#- The tables dbt does not build from SQL: the slices every audience model
    writes, and the sync job's ledger, to which it only ever appends (the
    state it stands for is derived by the views in models/sync/; see
    docs/decisions/0001-append-only-sync-ledger.md). Their schema is the
    contract with the sync job (models/sources/_tiktok_sync__sources.yml);
    change one only together with `sync/` and the README. -#}
{% macro sync_table_columns() %}
  {%- set s = dbt.type_string() -%}
  {#- free text of no fixed length: wider than s on Redshift -#}
  {%- set text = tiktok_sync.long_string_column_type() -%}
  {%- set ts = dbt.type_timestamp() -%}
  {%- set i = dbt.type_bigint() -%}
  {%- set b = dbt.type_boolean() -%}
  {{ return({
    'tiktok_audience_members': [
      ('audience_key', s), ('id_type', s), ('id_hash', s), ('built_at', ts),
    ],
    'tiktok_rejected_identifiers': [
      ('audience_key', s), ('source_column', s), ('reason_code', s), ('reason', text),
      ('masked_value', s), ('value_length', i), ('value_fingerprint', s), ('built_at', ts),
    ],
    'tiktok_identifier_counts': [
      ('audience_key', s), ('source_column', s), ('row_count', i), ('empty_count', i),
      ('valid_count', i), ('rejected_count', i), ('built_at', ts),
    ],
    'tiktok_sync_changes': [
      ('run_id', s), ('audience_key', s), ('batch_no', i), ('id_type', s), ('id_hash', s),
      ('action', s),
    ],
    'tiktok_sync_batches': [
      ('run_id', s), ('audience_key', s), ('batch_no', i), ('batch_seq', i), ('event', s),
      ('kind', s), ('audience_id', s), ('advertiser_id', s), ('api', s),
      ('identifier_count', i), ('request_id', s), ('event_at', ts),
    ],
    'tiktok_sync_registry_events': [
      ('event_seq', i), ('event', s), ('audience_key', s), ('audience_id', s),
      ('advertiser_id', s), ('api', s), ('audience_name', text), ('created_at', ts),
      ('created_by_run_id', s), ('run_id', s), ('event_at', ts),
    ],
    'tiktok_sync_create_requests': [
      ('run_id', s), ('audience_key', s), ('api', s), ('retention_days', i), ('sent_at', ts),
    ],
    'tiktok_sync_locks': [
      ('holder', s), ('event', s), ('claimed_at', ts), ('expires_at', ts), ('host', s),
      ('process_id', i), ('event_at', ts),
    ],
    'tiktok_sync_run_history': [
      ('run_id', s), ('audience_key', s), ('audience_id', s), ('advertiser_id', s), ('api', s),
      ('started_at', ts), ('finished_at', ts), ('status', s), ('adds_sent', i),
      ('removes_sent', i), ('adds_pending', i), ('removes_pending', i),
      ('rejected_identifiers', i), ('error_code', i), ('error_message', text), ('request_id', s),
    ],
    'tiktok_sync_audience_size_history': [
      ('snapshot_at', ts), ('audience_key', s), ('audience_id', s), ('advertiser_id', s),
      ('api', s), ('cover_num', i), ('is_valid', b), ('is_expiring', b),
    ],
  }) }}
{% endmacro %}

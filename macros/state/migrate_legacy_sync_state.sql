{#- Before the ledger, the sync job kept its state in three tables it
    updated in place: tiktok_sync_audience_registry,
    tiktok_sync_acknowledged_members and tiktok_sync_unconfirmed_changes.
    Those names are now views derived from the ledger. Where one of them is
    still a table, its rows are appended to the ledger as run 'migrated'
    (registry rows as events, acknowledged members as acknowledged batches,
    unconfirmed changes as batches sent without an answer, after them), and
    the table is renamed to <name>_legacy so that the view can take its
    name. Nothing is dropped: delete the _legacy tables once the first sync
    after the upgrade sent nothing unexpected. Returns whether it migrated.

    Idempotent: a table is copied only while no 'migrated' row of its kind
    is in the ledger (a run that failed after copying and before renaming
    renames without copying again). -#}
{% macro migrate_legacy_sync_state() %}
  {%- set migrated = [] -%}
  {%- for legacy_name in ['tiktok_sync_audience_registry', 'tiktok_sync_acknowledged_members', 'tiktok_sync_unconfirmed_changes'] -%}
    {%- set legacy = adapter.get_relation(database=target.get('database'), schema=target.schema, identifier=legacy_name) -%}
    {%- if legacy is not none and legacy.type == 'table' -%}
      {%- do tiktok_sync._migrate_legacy_table(legacy_name, legacy) -%}
      {%- set renamed = api.Relation.create(database=target.get('database'), schema=target.schema,
            identifier=legacy_name ~ '_legacy', type='table') -%}
      {%- do adapter.rename_relation(legacy, renamed) -%}
      {%- do log('tiktok_sync: moved the state of ' ~ legacy ~ ' into the ledger; the table is now ' ~ renamed, info=true) -%}
      {%- do migrated.append(legacy_name) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(migrated | length > 0) }}
{% endmacro %}


{% macro _migrate_legacy_table(legacy_name, legacy) %}
  {%- set ledger = {} -%}
  {%- for name in ['tiktok_sync_changes', 'tiktok_sync_batches', 'tiktok_sync_registry_events'] -%}
    {%- do ledger.update({name: api.Relation.create(database=target.get('database'), schema=target.schema, identifier=name, type='table')}) -%}
  {%- endfor -%}
  {%- set now = dbt.current_timestamp() -%}
  {%- if legacy_name == 'tiktok_sync_audience_registry' -%}
    {%- set marker = "select count(*) from " ~ ledger.tiktok_sync_registry_events ~ " where run_id = 'migrated'" -%}
  {%- else -%}
    {%- set kind = 'migrated_acknowledged' if legacy_name == 'tiktok_sync_acknowledged_members' else 'migrated_unconfirmed' -%}
    {%- set marker = "select count(*) from " ~ ledger.tiktok_sync_batches ~ " where run_id = 'migrated' and kind = '" ~ kind ~ "'" -%}
  {%- endif -%}
  {%- if run_query(marker).columns[0].values()[0] | int > 0 -%}
    {{ return(none) }}
  {%- endif -%}

  {%- if legacy_name == 'tiktok_sync_audience_registry' -%}
    {%- call statement('migrate_registry') -%}
      insert into {{ ledger.tiktok_sync_registry_events }}
          (event_seq, event, audience_key, audience_id, advertiser_id, api, audience_name,
           created_at, created_by_run_id, run_id, event_at)
      select
          0,
          case when audience_id is null then 'pending' else 'created' end,
          audience_key, audience_id, advertiser_id, api, audience_name,
          created_at, created_by_run_id, 'migrated', {{ now }}
      from {{ legacy }}
    {%- endcall -%}
  {%- else -%}
    {#- One batch per (audience, TikTok id, action, id type); acknowledged
        batches come first (batch_seq 0), unconfirmed ones after (1), as the
        unconfirmed changes were sent after the state they left. -#}
    {%- set acknowledged = legacy_name == 'tiktok_sync_acknowledged_members' -%}
    {%- set action = "'add'" if acknowledged else 'action' -%}
    {%- set offset = 0 if acknowledged else 1000000 -%}
    {%- set numbered -%}
      select
          audience_key, audience_id, advertiser_id, id_type, id_hash, {{ action }} as action,
          {{ offset }} + dense_rank() over (
              partition by audience_key order by audience_id, {{ action }}, id_type
          ) as batch_no
      from {{ legacy }}
    {%- endset -%}
    {%- call statement('migrate_changes_' ~ legacy_name) -%}
      insert into {{ ledger.tiktok_sync_changes }}
          (run_id, audience_key, batch_no, id_type, id_hash, action)
      select 'migrated', audience_key, batch_no, id_type, id_hash, action
      from ({{ numbered }}) as numbered
    {%- endcall -%}
    {%- call statement('migrate_batches_' ~ legacy_name) -%}
      insert into {{ ledger.tiktok_sync_batches }}
          (run_id, audience_key, batch_no, batch_seq, event, kind, audience_id, advertiser_id,
           api, identifier_count, request_id, event_at)
      select
          'migrated', audience_key, batch_no, {{ 0 if acknowledged else 1 }},
          '{{ "acknowledged" if acknowledged else "sent" }}', '{{ kind }}',
          audience_id, max(advertiser_id), null, count(*), null, {{ now }}
      from ({{ numbered }}) as numbered
      group by audience_key, batch_no, audience_id
    {%- endcall -%}
  {%- endif -%}
{% endmacro %}

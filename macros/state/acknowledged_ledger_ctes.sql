{#- The acknowledged state the ledger's acknowledged batches describe, as CTE
    definitions (no leading `with`, no trailing comma) over the caller's
    `changes` and `batches` CTEs, limited to the batches whose batch_seq
    meets `batch_condition` (SQL over `batch_seq`):
    - resets: per (audience_key, audience_id), the last acknowledged create,
      REPLACE or forget, after which nothing earlier counts for that id;
    - latest_changes: per identifier of an audience id, the batch_seq of the
      last acknowledged batch that carried it (last_seq) and of the last that
      added it (last_add_seq; equal when the identifier is in TikTok).
    tiktok_sync_acknowledged_compacted runs it over the batches up to its
    watermark and tiktok_sync_acknowledged_members over those after it, so
    the two read the ledger by one rule. -#}
{% macro acknowledged_ledger_ctes(batch_condition) %}
acknowledged_batches as (
    select
        run_id,
        audience_key,
        batch_no,
        batch_seq,
        kind,
        audience_id
    from batches
    where event = 'acknowledged'
        and {{ batch_condition }}
),

resets as (
    select
        audience_key,
        audience_id,
        max(batch_seq) as reset_seq
    from acknowledged_batches
    where kind in ('create', 'replace', 'forget')
    group by audience_key, audience_id
),

acknowledged_changes as (
    select
        changes.audience_key,
        acknowledged_batches.audience_id,
        changes.id_type,
        changes.id_hash,
        changes.action,
        acknowledged_batches.batch_seq
    from changes
    inner join acknowledged_batches
        on changes.run_id = acknowledged_batches.run_id
        and changes.audience_key = acknowledged_batches.audience_key
        and changes.batch_no = acknowledged_batches.batch_no
),

-- an identifier is in one batch per run at most, so (identifier, batch_seq) is
-- unique: the latest change is an add exactly when the latest add is the latest
latest_changes as (
    select
        audience_key,
        audience_id,
        id_type,
        id_hash,
        max(batch_seq) as last_seq,
        max(case when action = 'add' then batch_seq end) as last_add_seq
    from acknowledged_changes
    group by audience_key, audience_id, id_type, id_hash
)
{%- endmacro %}

{#- Run by the package's on-run-start, with check_audience_materializations:
    two audience models that would sync into one TikTok audience remove each
    other's members on every run. `tiktok-sync plan` and `run` block such
    models too (they also see ids the sync created), but only after a build
    that looked fine; this fails the build first, naming both models and the
    fix. Two models collide when they set the same meta.tiktok.audience_id,
    or when they would create audiences of one name and api in the same
    advertiser: the sync finds an interrupted create again by its name, so a
    shared name could take over the other model's audience. Reads only the
    parsed graph (no query). -#}
{% macro check_audience_collisions() %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set by_id = {} -%}
  {%- set by_name = {} -%}
  {%- for settings in tiktok_sync.configured_audiences() -%}
    {%- if settings.audience_id is not none -%}
      {%- do by_id.setdefault(settings.audience_id, []).append(settings.audience_key) -%}
    {%- else -%}
      {#- An unset advertiser_id is the run's default advertiser, the same for both. -#}
      {%- set name_key = [settings.advertiser_id or '', settings.api, settings.audience_name] | tojson -%}
      {%- do by_name.setdefault(name_key, {'api': settings.api, 'name': settings.audience_name, 'keys': []}) -%}
      {%- do by_name[name_key]['keys'].append(settings.audience_key) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set problems = [] -%}
  {%- for audience_id, keys in by_id.items() | sort -%}
    {%- if keys | length > 1 -%}
      {%- do problems.append("models " ~ keys | join(', ') ~ " all set meta.tiktok.audience_id '" ~ audience_id ~ "'") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for name_key, same in by_name.items() | sort -%}
    {%- if same['keys'] | length > 1 -%}
      {%- do problems.append("models " ~ same['keys'] | join(', ') ~ " would all create the " ~ same['api'] ~ " audience named '" ~ same['name'] ~ "' in one advertiser") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if problems -%}
    {{ exceptions.raise_compiler_error(
        problems | join('; ') ~ ". Two models in one TikTok audience remove each other's members. "
        ~ "Fix: give each model its own audience: a distinct meta.tiktok.audience_name, "
        ~ "and a distinct meta.tiktok.audience_id or none (README \"Changing an audience's settings\").") }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}

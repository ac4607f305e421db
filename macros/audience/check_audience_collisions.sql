{#- Run by the package's on-run-start, with check_audience_materializations:
    two audience models that would sync into one TikTok audience remove each
    other's members on every run. `tiktok-sync plan` and `run` block such
    models too (they also see ids the sync created), but only after a build
    that looked fine; this fails the build first, naming both models and the
    fix. Two models collide when they set the same meta.tiktok.audience_id,
    or when they would create audiences of one name and api in the same
    advertiser: the sync finds an interrupted create again by its name, so a
    shared name could take over the other model's audience. Reads only the
    parsed graph (no query). Settings are read as written, not checked: a
    malformed one fails its own model's build with its own message
    (audience_config), which this check must not pre-empt. -#}
{% macro check_audience_collisions() %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set by_id = {} -%}
  {%- set by_name = {} -%}
  {%- for node in graph.nodes.values() | sort(attribute='name') -%}
    {%- if node.resource_type == 'model' and node.config.materialized == 'tiktok_audience' -%}
      {%- set meta = node.config.meta or {} -%}
      {%- set settings = meta.get('tiktok') if meta is mapping else none -%}
      {%- set settings = settings if settings is mapping else {} -%}
      {%- set audience_id = settings.get('audience_id') -%}
      {%- if audience_id is not none -%}
        {%- do by_id.setdefault(audience_id | string | trim, []).append(node.name) -%}
      {%- else -%}
        {#- As audience_config defaults them; an unset advertiser_id is the run's
            default advertiser, the same for both models. -#}
        {%- set api = settings.get('api') or 'streaming' -%}
        {%- set name = settings.get('audience_name') -%}
        {%- set name = node.name if name is none else (name | string) -%}
        {%- set advertiser = (settings.get('advertiser_id') or '') | string | trim -%}
        {%- set name_key = [advertiser, api | string, name] | tojson -%}
        {%- do by_name.setdefault(name_key, {'api': api, 'name': name, 'keys': []}) -%}
        {%- do by_name[name_key]['keys'].append(node.name) -%}
      {%- endif -%}
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

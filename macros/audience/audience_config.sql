{#- The TikTok settings of one audience model, checked and with defaults.
    `node` is a model node (the `model` of a materialization, or a value of
    graph.nodes). Settings live under config(meta={'tiktok': {...}}) so they
    never clash with a project's other meta keys. Every mistake fails the
    build with a message that names the model and says how to fix it. -#}
{% macro audience_config(node) %}
  {%- set known_keys = ['audience_name', 'api', 'mode', 'audience_id', 'advertiser_id', 'retention_days'] -%}
  {%- set where = "audience model '" ~ node.name ~ "' (" ~ node.original_file_path ~ ")" -%}
  {%- set meta = (node.config.meta or {}) if node.config is mapping else {} -%}
  {%- set settings = meta.get('tiktok', {}) -%}
  {%- if settings is none -%}{%- set settings = {} -%}{%- endif -%}
  {%- if settings is not mapping -%}
    {{ exceptions.raise_compiler_error(where ~ ": meta.tiktok must be a mapping, e.g. config(meta={'tiktok': {'api': 'streaming'}}); got " ~ settings) }}
  {%- endif -%}
  {%- for key in settings -%}
    {%- if key not in known_keys -%}
      {{ exceptions.raise_compiler_error(where ~ ": unknown key '" ~ key ~ "' in meta.tiktok. Known keys: " ~ known_keys | join(', ') ~ ".") }}
    {%- endif -%}
  {%- endfor -%}

  {%- set api = settings.get('api') or 'streaming' -%}
  {%- if api not in ['streaming', 'customer_file'] -%}
    {{ exceptions.raise_compiler_error(where ~ ": meta.tiktok.api is '" ~ api ~ "'; use 'streaming' (TikTok segment API, the default) or 'customer_file'.") }}
  {%- endif -%}
  {%- set mode = settings.get('mode') or 'mirror' -%}
  {%- if mode not in ['mirror', 'add_only'] -%}
    {{ exceptions.raise_compiler_error(where ~ ": meta.tiktok.mode is '" ~ mode ~ "'; use 'mirror' (add and remove, the default) or 'add_only' (never remove).") }}
  {%- endif -%}

  {#- docs/tiktok-api.md §3.3 / §4.1: customer-file names are 1-128 characters; TikTok
      silently truncates segment names over 70 characters to 67 + an ellipsis,
      which would break finding the audience by name again, so refuse them. -#}
  {%- set name = settings.get('audience_name') -%}
  {%- set name = node.name if name is none else (name | string) -%}
  {%- set max_length = 70 if api == 'streaming' else 128 -%}
  {%- if name | trim | length == 0 -%}
    {{ exceptions.raise_compiler_error(where ~ ": meta.tiktok.audience_name is empty; give the audience a name or remove the key to use the model name.") }}
  {%- endif -%}
  {%- if name | length > max_length -%}
    {{ exceptions.raise_compiler_error(where ~ ": meta.tiktok.audience_name is " ~ (name | length) ~ " characters; TikTok's " ~ api ~ " audiences allow at most " ~ max_length ~ ". Shorten it.") }}
  {%- endif -%}
  {%- if modules.re.search('[\\x00-\\x1f\\x7f]', name) -%}
    {{ exceptions.raise_compiler_error(where ~ ": meta.tiktok.audience_name contains control characters (newline, tab, NUL, ...); use plain text.") }}
  {%- endif -%}

  {%- set ids = {} -%}
  {%- for key in ['audience_id', 'advertiser_id'] -%}
    {%- set value = settings.get(key) -%}
    {%- if value is not none -%}
      {%- set value = value | string | trim -%}
      {%- if not modules.re.fullmatch('[0-9]{1,32}', value) -%}
        {{ exceptions.raise_compiler_error(where ~ ": meta.tiktok." ~ key ~ " must be TikTok's numeric id written as a string, e.g. '7123456789012345678'; got '" ~ value ~ "'.") }}
      {%- endif -%}
    {%- endif -%}
    {%- do ids.update({key: value}) -%}
  {%- endfor -%}

  {%- set retention = settings.get('retention_days') -%}
  {%- if retention is not none -%}
    {%- if retention is not number or retention != (retention | int) or retention < 1 or retention > 365 -%}
      {{ exceptions.raise_compiler_error(where ~ ": meta.tiktok.retention_days must be a whole number of days from 1 to 365 (ref: TikTok's retention_in_days); got '" ~ retention ~ "'.") }}
    {%- endif -%}
    {%- if api != 'customer_file' -%}
      {{ exceptions.raise_compiler_error(where ~ ": meta.tiktok.retention_days applies only to api 'customer_file'; TikTok's segment API has no retention setting.") }}
    {%- endif -%}
    {%- set retention = retention | int -%}
  {%- endif -%}

  {{ return({
    'audience_key': node.name,
    'audience_name': name,
    'api': api,
    'mode': mode,
    'audience_id': ids['audience_id'],
    'advertiser_id': ids['advertiser_id'],
    'retention_days': retention,
  }) }}
{% endmacro %}

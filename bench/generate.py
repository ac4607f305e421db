"""Deterministic messy identifiers at scale, written as Parquet for the bench audiences.

`generate(out_dir, identifiers, generation=0)` writes three files whose non-null identifier
values add up to about `identifiers`:

* `contacts.parquet` (45% of values as emails, 25% as phones): email, phone, country_code;
* `devices.parquet` (20%): idfa on even rows, gaid on odd rows;
* `hashed_emails.parquet` (10%): email_sha256, what a CRM export of hashes looks like;

and `manifest.json` with the exact counts. Everything is computed in DuckDB SQL from
`md5(seed, table, row)`, so the same arguments give byte-for-byte the same values on any
machine, in seconds even at 10M.

The mess is what real exports have (README "Normalisation rules"): mixed case, spaces and tabs
inside and around values, `+tags`, already-hashed values in both cases, MD5s, UUIDs without
hyphens, zeroed advertising ids, non-ASCII, phones from eleven countries in national,
`+` and `00` formats, phones without a country, letters and extensions, empties, nulls, and
4% of rows that repeat an earlier person in another spelling (so members are deduplicated).

`generation=1` is the same data a day later: about 1% of rows belong to a different person
(new identifiers in, the old ones out), which is the incremental case.

Phones are generated only in shapes where the documented rule and a plain "digits, drop the
trunk 0, prepend the calling code" rule agree (no number that starts with its own calling code,
no `+44 (0)...`, no `00` where the country does not dial abroad with 00), so the pandas
baseline can be held to the same hashes; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

SHARES = {"contacts": 0.45, "devices": 0.20, "hashed_emails": 0.10}
PHONE_SHARE_OF_CONTACTS = 25 / 45  # phones are 25% of all values, on contact rows
DUPLICATE_PERCENT = 4  # rows that repeat an earlier person, spelled differently
CHANGED_PERCENT = 1  # rows that are another person in generation 1
NEW_PERSON_OFFSET = 1_000_000_000_000  # person ids of generation-1 replacements


@dataclass(frozen=True)
class Manifest:
    identifiers: int  # non-null identifier values, all files
    rows: dict[str, int]
    values: dict[str, int]  # per identifier column
    seed: int
    generation: int


FIRST = (
    "anna",
    "ben",
    "carla",
    "david",
    "emma",
    "felix",
    "gina",
    "hugo",
    "iris",
    "jonas",
    "kira",
    "liam",
    "mona",
    "noah",
    "olga",
    "paul",
    "quinn",
    "rosa",
    "sven",
    "tara",
    "uwe",
    "vera",
    "will",
    "xena",
    "yusuf",
    "zoe",
    "ali",
    "bea",
    "chen",
    "dana",
    "eli",
    "fatima",
    "george",
    "hana",
    "ivan",
    "jana",
    "kai",
    "lena",
    "marco",
    "nina",
    "oscar",
    "priya",
    "raj",
    "sara",
    "tom",
    "ursula",
    "victor",
    "wen",
    "yara",
    "zack",
)
LAST = (
    "smith",
    "jones",
    "muller",
    "garcia",
    "rossi",
    "dubois",
    "silva",
    "tanaka",
    "kim",
    "nguyen",
    "patel",
    "cohen",
    "novak",
    "larsen",
    "ivanova",
    "santos",
    "haddad",
    "okafor",
    "schmidt",
    "weber",
    "martin",
    "bernard",
    "costa",
    "ferreira",
    "sato",
    "suzuki",
    "lee",
    "park",
    "wilson",
    "brown",
    "taylor",
    "moore",
    "clark",
    "lewis",
    "walker",
    "hall",
    "young",
    "king",
    "wright",
)
DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.co.uk",
    "web.de",
    "gmx.de",
    "orange.fr",
    "free.fr",
    "icloud.com",
    "proton.me",
    "example.org",
    "shop.example.com",
    "mail.ru",
    "yahoo.co.jp",
    "uol.com.br",
    "libero.it",
    "telefonica.es",
    "company.io",
)

# ISO country, calling code, trunk prefix ('' = none), whether 00 is its international prefix,
# and how its national significant numbers (NSN) look: a fixed start, then random digits.
# Starts are mobile ranges chosen never to begin with the country's own calling code.
COUNTRIES = (
    ("US", "1", "", False, ("415", "212", "646", "305", "702"), 7),
    ("GB", "44", "0", True, ("7400", "7700", "7911", "7833"), 6),
    ("DE", "49", "0", True, ("151", "160", "170", "176"), 8),
    ("FR", "33", "0", True, ("6", "7"), 8),
    ("IN", "91", "0", True, ("98", "87", "76", "99"), 8),
    ("BR", "55", "", False, ("119", "219", "319", "419", "819"), 8),
    ("JP", "81", "0", False, ("90", "80", "70"), 8),
    ("ES", "34", "", True, ("6", "7"), 8),
    ("MX", "52", "", True, ("55", "33", "81"), 8),
    ("AU", "61", "0", False, ("4",), 8),
    ("IT", "39", "", True, ("320", "333", "347", "348"), 7),
)


def _sql_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str] | tuple[str, ...], bits: str) -> str:
    return f"{_sql_list(values)}[1 + cast(({bits}) % {len(values)} as bigint)]"


def _random_digits(bits: str, count: int) -> str:
    return f"lpad(cast(({bits}) % {10**count} as varchar), {count}, '0')"


def _person_ids(table: str, seed: int, generation: int) -> str:
    """Row i -> person id p: mostly i, sometimes an earlier person, in gen 1 sometimes new."""
    dup = f"md5_number_lower('{seed}:{table}:dup:' || i)"
    chg = f"md5_number_lower('{seed}:{table}:chg:' || i)"
    person = (
        f"case when i > 1000 and {dup} % 100 < {DUPLICATE_PERCENT} "
        f"then i - 1 - ({dup} >> 8) % 997 else i end"
    )
    if generation:
        person = (
            f"case when {chg} % 100 < {CHANGED_PERCENT} "
            f"then i + {NEW_PERSON_OFFSET} else {person} end"
        )
    return person


def _email_sql() -> str:
    """The canonical (normalised) email of person p, from random bits `pr`."""
    first = _pick(FIRST, "pr")
    last = _pick(LAST, "pr >> 8")
    domain = _pick(DOMAINS, "pr >> 16")
    return f"{first} || '.' || {last} || cast(p as varchar) || '@' || {domain}"


def _messy_email(canonical: str, bits: str) -> str:
    """One spelling of `canonical` chosen by `bits` % 100; some of them invalid on purpose."""
    v = f"(({bits}) % 100)"
    tab, nl, nbsp = "chr(9)", "chr(10)", "chr(160)"
    local = f"split_part({canonical}, '@', 1)"
    domain = f"split_part({canonical}, '@', 2)"
    capitalised = (
        f"upper(substr({canonical}, 1, 1)) || substr({canonical}, 2, strpos({canonical}, '@') - 2)"
    )
    return f"""case
        when {v} < 55 then {canonical}
        when {v} < 65 then {capitalised} || '@' || upper({domain})
        when {v} < 70 then '  ' || {canonical} || {tab}
        when {v} < 72 then {local} || ' @ ' || {domain} || {nl}
        when {v} < 75 then {local} || '+news' || cast({v} as varchar) || '@' || {domain}
        when {v} < 78 then sha256({canonical})
        when {v} < 80 then upper(sha256({canonical}))
        when {v} < 82 then md5({canonical})
        when {v} < 84 then {local} || '.' || {domain}
        when {v} < 85 then {local} || '@@' || {domain}
        when {v} < 86 then {local} || '@' || split_part({domain}, '.', 1)
        when {v} < 87 then '.' || {canonical}
        when {v} < 88 then 'j' || chr(246) || {canonical}
        when {v} < 89 then {local} || {nbsp} || '@' || {domain}
        when {v} < 90 then chr(8490) || {canonical}
        when {v} < 93 then ''
        when {v} < 95 then ' ' || {tab} || ' '
        when {v} < 97 then 'n/a'
        else {canonical}
    end"""


def _phone_parts() -> tuple[str, str, str, str, str]:
    """SQL for (country, calling code, trunk, uses 00, NSN) of person p from bits `ph`."""
    idx = f"(1 + cast(ph % {len(COUNTRIES)} as bigint))"
    country = f"{_sql_list([c[0] for c in COUNTRIES])}[{idx}]"
    code = f"{_sql_list([c[1] for c in COUNTRIES])}[{idx}]"
    trunk = f"{_sql_list([c[2] for c in COUNTRIES])}[{idx}]"
    uses00 = "[" + ", ".join("true" if c[3] else "false" for c in COUNTRIES) + f"][{idx}]"
    starts = " ".join(
        f"when {i + 1} then {_pick(c[4], 'ph >> 8')} || {_random_digits('ph >> 16', c[5])}"
        for i, c in enumerate(COUNTRIES)
    )
    nsn = f"case {idx} {starts} end"
    return country, code, trunk, uses00, nsn


def _messy_phone(bits: str) -> str:
    """One spelling of person p's phone (columns country, code, trunk, uses00, nsn)."""
    v = f"(({bits}) % 100)"
    spaced = "substr(nsn, 1, 3) || ' ' || substr(nsn, 4, 3) || ' ' || substr(nsn, 7)"
    parenthesised = (
        "'(' || trunk || substr(nsn, 1, 3) || ') ' || substr(nsn, 4, 3) || '.' || substr(nsn, 7)"
    )
    dashed = "substr(nsn, 1, 3) || '-' || substr(nsn, 4, 3) || '-' || substr(nsn, 7)"
    return f"""case
        when {v} < 20 then '+' || code || ' ' || {spaced}
        when {v} < 28 then '+' || code || nsn
        when {v} < 33 then '(+' || code || ') ' || {dashed}
        when {v} < 40 and uses00 then '00' || code || ' ' || {spaced}
        when {v} < 55 then trunk || {spaced}
        when {v} < 62 then {parenthesised}
        when {v} < 66 then chr(9) || trunk || nsn || ' '
        when {v} < 70 then sha256(code || nsn)
        when {v} < 72 then upper(sha256(code || nsn))
        when {v} < 77 then trunk || {dashed}
        when {v} < 80 then '+' || code || ' ' || substr(nsn, 1, 3) || ' CALL NOW'
        when {v} < 83 then '+' || code || ' ' || {spaced} || ' ext. 12'
        when {v} < 86 then substr(nsn, 1, 4)
        when {v} < 88 then '+' || code || nsn || '1234567'
        when {v} < 90 then '#' || nsn
        when {v} < 93 then ''
        when {v} < 95 then '  '
        else null
    end"""


def _contacts_sql(rows: int, seed: int, generation: int) -> str:
    country, code, trunk, uses00, nsn = _phone_parts()
    phone_permille = round(PHONE_SHARE_OF_CONTACTS * 1000)
    phone_rows = f"md5_number_lower('{seed}:contacts:has_phone:' || i) % 1000 < {phone_permille}"
    return f"""
    with rows as (
        select i, {_person_ids("contacts", seed, generation)} as p
        from range({rows}) as r(i)
    ),
    people as (
        select
            i, p,
            md5_number_lower('{seed}:person:' || p) as pr,
            md5_number_upper('{seed}:person:' || p) as ph,
            md5_number_lower('{seed}:contacts:spelling:' || i) as spelling,
            {phone_rows} as has_phone
        from rows
    ),
    with_parts as (
        select *, {_email_sql()} as canonical_email,
            {country} as country, {code} as code, {trunk} as trunk, {uses00} as uses00, {nsn} as nsn
        from people
    ),
    messy_phone as (
        select *, {_messy_phone("spelling >> 20")} as phone_value
        from with_parts
    )
    select
        i as contact_id,
        {_messy_email("canonical_email", "spelling")} as email,
        case when has_phone then phone_value end as phone,
        case
            when not has_phone or phone_value is null then null
            -- national spellings without a country: rejected (phone_no_country)
            when (spelling >> 40) % 100 < 3
                and not regexp_matches(phone_value, '^[(]?[+]|^00') then null
            when (spelling >> 40) % 100 < 6 then lower(country)
            when (spelling >> 40) % 100 < 8 then ' ' || country
            else country
        end as country_code
    from messy_phone
    order by i
    """


def _uuid(bits_hex: str) -> str:
    h = bits_hex
    return (
        f"substr({h}, 1, 8) || '-' || substr({h}, 9, 4) || '-4' || substr({h}, 14, 3) || '-' || "
        f"substr('89ab', 1 + ascii(substr({h}, 17, 1)) % 4, 1) || substr({h}, 18, 3) || '-' || "
        f"substr({h}, 21, 12)"
    )


def _devices_sql(rows: int, seed: int, generation: int) -> str:
    v = "(spelling % 100)"
    maid = f"""case
        when {v} < 50 then uuid
        when {v} < 65 then upper(uuid)
        when {v} < 70 then ' ' || upper(uuid) || ' '
        when {v} < 75 then sha256(uuid)
        when {v} < 78 then upper(sha256(uuid))
        when {v} < 82 then md5(uuid)
        when {v} < 84 then replace(uuid, '-', '')
        when {v} < 87 then '00000000-0000-0000-0000-000000000000'
        when {v} < 90 then substr(uuid, 1, 23)
        when {v} < 92 then 'unknown'
        when {v} < 95 then ''
        else uuid
    end"""
    return f"""
    with rows as (
        select i, {_person_ids("devices", seed, generation)} as p
        from range({rows}) as r(i)
    ),
    devices as (
        select
            i,
            {_uuid(f"md5('{seed}:device:' || p)")} as uuid,
            md5_number_lower('{seed}:devices:spelling:' || i) as spelling
        from rows
    ),
    messy as (
        select i, {maid} as maid from devices
    )
    select
        i as device_id,
        case when i % 2 = 0 then maid end as idfa,
        case when i % 2 = 1 then maid end as gaid
    from messy
    order by i
    """


def _hashed_sql(rows: int, seed: int, generation: int) -> str:
    v = "(spelling % 100)"
    value = f"""case
        when {v} < 80 then sha256(canonical_email)
        when {v} < 88 then upper(sha256(canonical_email))
        when {v} < 91 then ' ' || sha256(canonical_email) || chr(9)
        when {v} < 93 then 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
        when {v} < 95 then substr(sha256(canonical_email), 2)
        when {v} < 97 then 'z' || substr(sha256(canonical_email), 2)
        when {v} < 99 then ''
        else sha256(canonical_email)
    end"""
    return f"""
    with rows as (
        select i, {_person_ids("hashed", seed, generation)} as p
        from range({rows}) as r(i)
    ),
    people as (
        select i, p,
            md5_number_lower('{seed}:person:' || p) as pr,
            md5_number_lower('{seed}:hashed:spelling:' || i) as spelling
        from rows
    ),
    with_email as (
        select *, {_email_sql()} as canonical_email from people
    )
    select i as subscriber_id, {value} as email_sha256
    from with_email
    order by i
    """


def generate(
    out_dir: Path, identifiers: int, *, seed: int = 6, generation: int = 0, threads: int = 2
) -> Manifest:
    """Write the three Parquet files and manifest.json into `out_dir`; return the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    contacts_rows = round(identifiers * SHARES["contacts"])
    rows = {
        "contacts": contacts_rows,
        "devices": round(identifiers * SHARES["devices"]),
        "hashed_emails": round(identifiers * SHARES["hashed_emails"]),
    }
    queries = {
        "contacts": _contacts_sql(rows["contacts"], seed, generation),
        "devices": _devices_sql(rows["devices"], seed, generation),
        "hashed_emails": _hashed_sql(rows["hashed_emails"], seed, generation),
    }
    with duckdb.connect() as con:
        con.execute(f"set threads = {int(threads)}")
        con.execute("set enable_progress_bar = false")
        values: dict[str, int] = {}
        for table, query in queries.items():
            path = out_dir / f"{table}.parquet"
            con.execute(
                f"copy ({query}) to '{path}' "
                "(format parquet, compression zstd, row_group_size 122880)"
            )
            columns = [
                str(r[0])
                for r in con.execute(f"describe select * from read_parquet('{path}')").fetchall()
            ]
            for column in columns:
                if column.endswith("_id") or column == "country_code":
                    continue
                counted = con.execute(
                    f"select count({column}) from read_parquet('{path}')"
                ).fetchone()
                assert counted is not None
                values[column] = int(counted[0])
    manifest = Manifest(
        identifiers=sum(values.values()),
        rows=rows,
        values=values,
        seed=seed,
        generation=generation,
    )
    (out_dir / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("identifiers", type=int)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--generation", type=int, default=0, choices=[0, 1])
    args = parser.parse_args()
    manifest = generate(args.out_dir, args.identifiers, seed=args.seed, generation=args.generation)
    print(json.dumps(asdict(manifest), indent=2))


if __name__ == "__main__":
    main()

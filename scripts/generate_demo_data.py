"""Deterministic, deliberately messy demo data for the demo audiences.

Writes two dbt seeds, byte for byte the same on every run and every Python >= 3.11:

* ``integration_tests/seeds/demo/demo_crm_customers.csv``: one row per CRM customer (6,000).
* ``integration_tests/seeds/demo/demo_app_devices.csv``: one row per app install (about 4,000),
  linked to a customer.

Why the mess: the project's whole point is that identifiers are normalised and hashed in the
warehouse, so the demo must put into the warehouse what real CRMs and app backends deliver, not
what TikTok wants. Every kind of mess below comes from a documented normalisation rule or a
pain point users report (see the README's "Normalisation rules"):

* emails: mixed case; leading, trailing and inner spaces and tabs; ``+tags``; dotted and undotted
  spellings of the same ``gmail.test`` mailbox; values that are already SHA-256 (lower and UPPER
  hex); invalid values (no ``@``, two ``@``, whitespace only, ``n/a``, a trailing-dot domain, a
  non-ASCII local part like ``jörg@``, an emoji, a no-break space); missing values; the same
  address on several customers.
* phones from 11 countries in national and international formats, with ``+`` or ``00``
  prefixes, ``(0)``, trunk zeros, punctuation, spaces and tabs; some already SHA-256; some
  invalid (too short, letters, ``ext. 12``, too long). The per-row ``country_code`` is ISO-2 but
  sometimes lower-case, padded, ``UK`` instead of ``GB``, or missing.
* a partner's pre-hashed email column: lower and UPPER hex, some padded, some the wrong length or
  not hex at all.
* advertising ids: IDFA upper-case as iOS reports it, GAID lower-case as Android does, mixed
  case, surrounding whitespace, the all-zero id of limit-ad-tracking, garbage, and ids that an
  upstream system already hashed to MD5 (32 hex) or SHA-256 (64 hex), which the backend records in
  ``advertising_id_format`` (a value's shape cannot say it: 32 hex is also a UUID without hyphens).

Only synthetic values: email domains are reserved (``example.com/.org/.net``, ``*.example``) or
obviously fake (``*.test``, RFC 2606), and phones come from numbering plans' ranges reserved for
fiction where the country has one (US 555-01xx, UK Ofcom drama ranges, French ARCEP fiction
ranges, Australian ACMA fiction ranges), otherwise from libphonenumber's example-number patterns.
The UK ``07700 900xxx`` drama mobiles are reserved but libphonenumber calls them invalid; all
other generated phone ranges pass ``phonenumbers.is_valid_number`` (checked when writing this).

Time: every row carries day numbers relative to the demo's "today" (day 0). The demo audiences
read the data as of ``var('demo_day')``; a few rows are dated exactly day 1, so rebuilding with
``demo_day: 1`` moves a small, known set of rows in and out of every audience.

What a CSV seed cannot carry: an empty string. dbt-duckdb loads seeds with DuckDB's
``COPY ... (FORMAT CSV)``, which keeps leading/trailing/inner spaces and tabs, ``n/a``, ``NA``,
``None`` and any other text exactly, but reads an empty field (quoted or not) as NULL. So this
generator never produces ``""``: a missing value is ``None`` and is written as an empty field.

Importable: ``generate()`` returns the rows as dicts exactly as the warehouse holds them after
``dbt seed`` (``None`` for NULL, ``Decimal`` lifetime values), and ``audience_rows()`` mirrors the
demo audience models' SQL, so tests can compute expected members and day-0 to day-1 changes
from the same definition. Run ``python scripts/generate_demo_data.py`` to rewrite the seeds, or
with ``--check`` to fail when the committed files are stale.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Row = dict[str, Any]

SEED = 20_250_601
N_CUSTOMERS = 6_000
FIRST_CUSTOMER_ID = 100_001
FIRST_DEVICE_ID = 500_001

# Exact numbers of customers whose membership moves on day 1 (about 2 % and 1.5 %).
N_SIGNUP_ON_DAY_1 = 120
N_CHURN_ON_DAY_1 = 90
N_CHURNED_BEFORE = 480  # churn_day in [signup_day, 0]: already gone on day 0
N_CHURN_LATER = 240  # churn_day in [2, 90]: still members on day 1

# Devices: exact numbers seen on day 1 (~2 %) and on the last day of the activity window.
ACTIVE_WINDOW_DAYS = 30
N_DEVICES_SEEN_ON_DAY_1 = 80
N_DEVICES_AT_WINDOW_EDGE = 60  # last_seen_day = 1 - ACTIVE_WINDOW_DAYS: drop out on day 1

# Audience rules; the models in integration_tests/models/audiences/demo/ use the same numbers.
HIGH_VALUE_MIN_LIFETIME_VALUE = Decimal("500.00")

CUSTOMER_COLUMNS = (
    "customer_id",
    "first_name",
    "email",
    "phone",
    "country_code",
    "lifetime_value",
    "is_newsletter_subscriber",
    "email_sha256_from_partner",
    "signup_day",
    "churn_day",
)
DEVICE_COLUMNS = (
    "device_id",
    "customer_id",
    "platform",
    "advertising_id",
    "advertising_id_format",
    "last_seen_day",
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_DIR = REPO_ROOT / "integration_tests" / "seeds" / "demo"


class Dice:
    """Random choices built only on ``random.Random.random()``.

    Python promises that ``random()`` keeps its sequence for a given seed across versions; it
    does not promise that for ``randrange``, ``choice``, ``sample`` or ``shuffle`` ("Notes on
    Reproducibility" in the ``random`` docs). Everything here is derived from ``random()``.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self._rng.random() < p

    def below(self, n: int) -> int:
        return min(int(self._rng.random() * n), n - 1)

    def between(self, lo: int, hi: int) -> int:
        """An int in [lo, hi], both ends included."""
        return lo + self.below(hi - lo + 1)

    def pick(self, seq: Sequence[T]) -> T:
        return seq[self.below(len(seq))]

    def weighted(self, options: Sequence[tuple[T, float]]) -> T:
        total = sum(w for _, w in options)
        x = self._rng.random() * total
        for value, w in options:
            x -= w
            if x < 0:
                return value
        return options[-1][0]

    def digits(self, n: int) -> str:
        return "".join(str(self.below(10)) for _ in range(n))

    def shuffled(self, seq: Sequence[T]) -> list[T]:
        out = list(seq)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# Names and emails
# --------------------------------------------------------------------------------------------

# fmt: off
# (display first name, ASCII form used in email addresses)
_FIRST_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "US": (("James", "james"), ("Mary", "mary"), ("Robert", "robert"), ("Patricia", "patricia"),
           ("John", "john"), ("Jennifer", "jennifer"), ("Michael", "michael"), ("Linda", "linda"),
           ("David", "david"), ("Ashley", "ashley"), ("Chris", "chris"), ("Emma", "emma")),
    "GB": (("Oliver", "oliver"), ("Amelia", "amelia"), ("George", "george"), ("Isla", "isla"),
           ("Harry", "harry"), ("Ava", "ava"), ("Jack", "jack"), ("Emily", "emily"),
           ("Noah", "noah"), ("Sophie", "sophie")),
    "DE": (("Lukas", "lukas"), ("Anna", "anna"), ("Jürgen", "juergen"), ("Marie", "marie"),
           ("Jörg", "joerg"), ("Lena", "lena"), ("Björn", "bjoern"), ("Hannah", "hannah"),
           ("Jonas", "jonas"), ("Sören", "soeren")),
    "FR": (("Chloé", "chloe"), ("Léa", "lea"), ("Hélène", "helene"), ("Théo", "theo"),
           ("Hugo", "hugo"), ("Louis", "louis"), ("Camille", "camille"), ("Manon", "manon"),
           ("Jules", "jules"), ("Inès", "ines")),
    "IT": (("Giulia", "giulia"), ("Francesco", "francesco"), ("Sofia", "sofia"),
           ("Alessandro", "alessandro"), ("Aurora", "aurora"), ("Lorenzo", "lorenzo"),
           ("Niccolò", "niccolo"), ("Chiara", "chiara"), ("Mattia", "mattia")),
    "ES": (("José", "jose"), ("María", "maria"), ("Lucía", "lucia"), ("Martín", "martin"),
           ("Álvaro", "alvaro"), ("Daniela", "daniela"), ("Pablo", "pablo"), ("Iñigo", "inigo")),
    "AM": (("Aram", "aram"), ("Anahit", "anahit"), ("Davit", "davit"), ("Mariam", "mariam"),
           ("Narek", "narek"), ("Lilit", "lilit"), ("Tigran", "tigran"), ("Ani", "ani")),
    "BR": (("João", "joao"), ("Ana", "ana"), ("Luíza", "luiza"), ("Pedro", "pedro"),
           ("Gabriel", "gabriel"), ("Beatriz", "beatriz"), ("Júlia", "julia"),
           ("Rafael", "rafael")),
    "JP": (("Haruto", "haruto"), ("Yui", "yui"), ("Sota", "sota"), ("Hina", "hina"),
           ("Ren", "ren"), ("Yuna", "yuna"), ("Riku", "riku"), ("Sakura", "sakura")),
    "IN": (("Aarav", "aarav"), ("Ananya", "ananya"), ("Vihaan", "vihaan"), ("Diya", "diya"),
           ("Arjun", "arjun"), ("Isha", "isha"), ("Rohan", "rohan"), ("Priya", "priya")),
    "AU": (("Jack", "jack"), ("Charlotte", "charlotte"), ("William", "william"),
           ("Olivia", "olivia"), ("Lachlan", "lachlan"), ("Mia", "mia"), ("Zoë", "zoe"),
           ("Cooper", "cooper")),
}

_LAST_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
           "wilson", "taylor", "moore", "clark"),
    "GB": ("taylor", "evans", "thomas", "roberts", "walker", "wright", "hughes", "green",
           "hall", "wood"),
    "DE": ("mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker",
           "hoffmann", "schulz"),
    "FR": ("martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand",
           "leroy", "moreau"),
    "IT": ("rossi", "russo", "ferrari", "esposito", "bianchi", "romano", "colombo", "ricci"),
    "ES": ("garcia", "fernandez", "gonzalez", "rodriguez", "lopez", "martinez", "sanchez",
           "perez"),
    "AM": ("sargsyan", "hakobyan", "grigoryan", "harutyunyan", "petrosyan", "vardanyan"),
    "BR": ("silva", "santos", "oliveira", "souza", "lima", "pereira", "ferreira", "costa"),
    "JP": ("sato", "suzuki", "takahashi", "tanaka", "watanabe", "ito", "yamamoto", "nakamura"),
    "IN": ("sharma", "patel", "singh", "kumar", "gupta", "reddy", "iyer", "nair"),
    "AU": ("smith", "jones", "williams", "brown", "wilson", "taylor", "nguyen", "kelly"),
}

# fmt: on

_EMAIL_DOMAINS = (
    ("example.com", 30.0),
    ("gmail.test", 25.0),
    ("example.org", 12.0),
    ("mail.test", 12.0),
    ("example.net", 8.0),
    ("inbox.test", 7.0),
    ("post.example", 6.0),
)
_PLUS_TAGS = ("news", "shop", "tiktok", "promo", "2024", "sale")
_ACCENTS = {"a": "ä", "o": "ö", "u": "ü", "e": "é", "i": "í", "n": "ñ"}
_EMOJI = ("\U0001f600", "\U0001f389", "\u2764\ufe0f", "\U0001f680")
_NBSP = "\u00a0"
_WS = (" ", "  ", "\t", " \t", "\t ")


def _canonical_email(dice: Dice, country: str, first_ascii: str, taken: set[str]) -> str:
    """A fresh, valid, lower-case address; what the customer would type on a good day."""
    last = dice.pick(_LAST_NAMES[country])
    domain = dice.weighted(_EMAIL_DOMAINS)
    styles: tuple[Callable[[], str], ...] = (
        lambda: f"{first_ascii}.{last}",
        lambda: f"{first_ascii}{last}",
        lambda: f"{first_ascii[0]}{last}",
        lambda: f"{first_ascii}_{last}",
        lambda: f"{first_ascii}.{last}{dice.digits(2)}",
        lambda: f"{last}.{first_ascii}",
        lambda: f"{first_ascii}{dice.digits(3)}",
    )
    local = dice.pick(styles)()
    address = f"{local}@{domain}"
    while address in taken:
        address = f"{local}{dice.digits(3)}@{domain}"
    taken.add(address)
    return address


def _with_whitespace(dice: Dice, value: str) -> str:
    where = dice.weighted((("lead", 3.0), ("trail", 4.0), ("both", 2.0)))
    lead = dice.pick(_WS) if where in ("lead", "both") else ""
    trail = dice.pick(_WS) if where in ("trail", "both") else ""
    return f"{lead}{value}{trail}"


def _mixed_case(dice: Dice, email: str) -> str:
    local, domain = email.split("@")
    style = dice.pick(("title", "upper", "domain", "camel"))
    if style == "title":
        return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
    if style == "upper":
        return email.upper()
    if style == "domain":
        return f"{local}@{domain.upper()}"
    return "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(local)) + "@" + domain


def _invalid_email(dice: Dice, email: str, first_display: str) -> str:
    local, domain = email.split("@")
    kind = dice.pick(
        (
            "no_at",
            "double_at",
            "whitespace_only",
            "placeholder",
            "trailing_dot",
            "non_ascii",
            "emoji",
            "nbsp",
            "no_tld",
            "comma",
        )
    )
    if kind == "no_at":
        return f"{local}{domain}" if dice.chance(0.5) else f"{local} at {domain}"
    if kind == "double_at":
        return f"{local}@@{domain}" if dice.chance(0.5) else f"{local}@{domain}@{domain}"
    if kind == "whitespace_only":
        return dice.pick((" ", "   ", "\t", " \t "))
    if kind == "placeholder":
        return dice.pick(("n/a", "N/A", "none", "-", "unknown", "noemail"))
    if kind == "trailing_dot":
        return f"{local}@{domain}."
    if kind == "non_ascii":
        display = first_display.lower()
        if display.isascii():
            for plain, accented in _ACCENTS.items():
                if plain in display:
                    display = display.replace(plain, accented, 1)
                    break
            else:
                display = display + "ø"
        rest = local.split(".", 1)[1] if "." in local else ""
        return f"{display}.{rest}@{domain}" if rest else f"{display}@{domain}"
    if kind == "emoji":
        return f"{local}{dice.pick(_EMOJI)}@{domain}"
    if kind == "nbsp":
        # A no-break space pasted from a web page. Earlier versions rejected it; now deleted like
        # any whitespace, so the address is valid (README "Normalisation rules").
        return f"{local}{_NBSP}@{domain}"
    if kind == "no_tld":
        return f"{local}@{domain.split('.')[0]}"
    return f"{local}@{domain.replace('.', ',')}"


def _messy_email(dice: Dice, email: str, first_display: str) -> str | None:
    kind = dice.weighted(
        (
            ("clean", 50.0),
            ("mixed_case", 15.0),
            ("spaces_or_tabs", 10.0),
            ("inner_whitespace", 2.0),
            ("plus_tag", 5.0),
            ("sha256_lower", 2.5),
            ("sha256_upper", 1.5),
            ("missing", 5.0),
            ("invalid", 6.0),
            ("mixed_case_and_whitespace", 3.0),
        )
    )
    if kind == "clean":
        return email
    if kind == "mixed_case":
        return _mixed_case(dice, email)
    if kind == "spaces_or_tabs":
        return _with_whitespace(dice, email)
    if kind == "inner_whitespace":
        local, domain = email.split("@")
        gap = dice.pick((" ", "\t", "  "))
        return f"{local}{gap}@{domain}" if dice.chance(0.5) else f"{local}@{gap}{domain}"
    if kind == "plus_tag":
        local, domain = email.split("@")
        return f"{local}+{dice.pick(_PLUS_TAGS)}@{domain}"
    if kind == "sha256_lower":
        return sha256_hex(email)
    if kind == "sha256_upper":
        return sha256_hex(email).upper()
    if kind == "missing":
        return None
    if kind == "invalid":
        return _invalid_email(dice, email, first_display)
    return _with_whitespace(dice, _mixed_case(dice, email))


def _partner_email_hash(dice: Dice, email: str) -> str | None:
    """What a partner system delivers: SHA-256 of its own (clean) copy of the address."""
    if not dice.chance(0.74):
        return None
    digest = sha256_hex(email)
    kind = dice.weighted(
        (
            ("lower", 72.0),
            ("upper", 20.0),
            ("padded", 2.0),
            ("truncated", 1.5),
            ("too_long", 1.0),
            ("sha1", 1.0),
            ("md5", 0.8),
            ("prefixed", 0.7),
            ("not_hex", 1.0),
        )
    )
    if kind == "lower":
        return digest
    if kind == "upper":
        return digest.upper()
    if kind == "padded":
        return _with_whitespace(dice, digest if dice.chance(0.5) else digest.upper())
    if kind == "truncated":
        return digest[:63]
    if kind == "too_long":
        return digest + dice.pick("0123456789abcdef")
    if kind == "sha1":
        return hashlib.sha1(email.encode("utf-8")).hexdigest()
    if kind == "md5":
        return md5_hex(email)
    if kind == "prefixed":
        return "0x" + digest
    return dice.pick(("hash_error", "#VALUE!", "********", "N/A", "z" * 64))


# --------------------------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------------------------

# fmt: off
_US_AREA_CODES = (
    "201", "202", "203", "205", "206", "207", "208", "209", "210", "212", "213", "214", "215",
    "216", "217", "218", "219", "224", "225", "228", "229", "231", "234", "239", "240", "248",
    "251", "252", "253", "254", "256", "260", "262", "267", "269", "270", "276", "281", "301",
    "302", "303", "304", "305", "307", "308", "309", "310", "312", "313", "314", "315", "316",
    "317", "318", "319", "320", "321", "323", "330", "334", "336", "337", "339", "347", "351",
    "352", "360", "361", "385", "386", "401", "402", "404", "405", "406", "407", "408", "409",
    "410", "412", "413", "414", "415", "417", "419", "423", "424", "425", "430", "432", "434",
    "435", "440", "443", "503", "512", "602", "617", "646", "702", "713", "720", "773", "801",
    "816", "860", "901", "919", "929", "972",
)
# Australian Communications and Media Authority's fictitious mobile numbers.
_AU_FICTION_MOBILES = (
    "491570006", "491570156", "491570157", "491570158", "491570159", "491570110", "491570313",
    "491570737", "491571266", "491571491", "491571804", "491572549", "491572665", "491572983",
    "491573770", "491573087", "491574118", "491574632", "491575254", "491575789", "491576398",
    "491576801", "491577426", "491577644", "491578957", "491578148", "491578888", "491579212",
    "491579760", "491579455",
)


# fmt: on


@dataclass(frozen=True)
class PhonePlan:
    """How one country writes its numbers. ``ranges`` are (national significant number prefix,
    number of free trailing digits, weight); ``groups`` splits a national significant number for
    display, keyed by its first digit."""

    calling_code: str
    trunk_prefix: str
    ranges: tuple[tuple[str, int, float], ...]
    groups: Callable[[str], tuple[str, ...]]
    # National formats people type; {g} is the grouped national number joined by the separator.
    national_formats: tuple[str, ...]


def _split(nsn: str, sizes: Sequence[int]) -> tuple[str, ...]:
    out, i = [], 0
    for size in sizes:
        out.append(nsn[i : i + size])
        i += size
    if i < len(nsn):
        out[-1] += nsn[i:]
    return tuple(out)


def _groups_fixed(
    first_sizes: dict[str, Sequence[int]], default: Sequence[int]
) -> Callable[[str], tuple[str, ...]]:
    def groups(nsn: str) -> tuple[str, ...]:
        for prefix, sizes in first_sizes.items():
            if nsn.startswith(prefix):
                return _split(nsn, sizes)
        return _split(nsn, default)

    return groups


# fmt: off
PHONE_PLANS: dict[str, PhonePlan] = {
    "US": PhonePlan("1", "", (), _groups_fixed({}, (3, 3, 4)), ()),  # built by _us_phone
    "GB": PhonePlan(
        "44", "0",
        (("2079460", 3, 4.0), ("1134960", 3, 1.0), ("1214960", 3, 1.0), ("1614960", 3, 1.0),
         ("1314960", 3, 1.0), ("2920180", 3, 1.0), ("7700900", 3, 2.0)),
        _groups_fixed({"20": (2, 4, 4), "29": (2, 4, 4), "7": (4, 6)}, (3, 3, 4)),
        ("0{g}",),
    ),
    "DE": PhonePlan(
        "49", "0",
        (("3012345", 3, 3.0), ("8912345", 3, 1.0), ("4012345", 3, 1.0), ("15123456", 3, 2.0),
         ("17612345", 3, 2.0)),
        _groups_fixed({"30": (2, 8), "40": (2, 8), "89": (2, 8)}, (3, 8)),
        ("0{g}", "(0{a}) {b}", "0{a}/{b}", "0{a}-{b}"),
    ),
    "FR": PhonePlan(
        "33", "0",
        (("19900", 4, 2.0), ("26191", 4, 1.0), ("35301", 4, 1.0), ("46571", 4, 1.0),
         ("53649", 4, 1.0)),
        _groups_fixed({}, (1, 2, 2, 2, 2)),
        ("0{g}", "0{g.}", "0{g-}", "0{compact}"),
    ),
    "IT": PhonePlan(
        "39", "",  # the leading 0 of an Italian fixed line is part of the number, not a trunk
        (("0212345", 3, 2.0), ("0612345", 3, 1.0), ("3123456", 3, 2.0), ("3471234", 3, 1.0)),
        _groups_fixed({"0": (2, 4, 4), "3": (3, 3, 4)}, (3, 3, 4)),
        ("{g}", "{a}-{rest}", "{a}/{rest}", "{compact}"),
    ),
    "ES": PhonePlan(
        "34", "",
        (("912345", 3, 2.0), ("932345", 3, 1.0), ("612345", 3, 2.0), ("699123", 3, 1.0)),
        _groups_fixed({}, (3, 2, 2, 2)),
        ("{g}", "{compact}", "{g-}"),
    ),
    "AM": PhonePlan(
        "374", "0",
        (("93828", 3, 2.0), ("77123", 3, 2.0), ("10123", 3, 1.0), ("91123", 3, 1.0)),
        _groups_fixed({}, (2, 6)),
        ("0{g}", "(0{a}) {b}", "0{g-}"),
    ),
    "BR": PhonePlan(
        "55", "0",
        (("1123456", 3, 1.0), ("11961234", 3, 2.0), ("21987654", 3, 2.0), ("2123456", 3, 1.0)),
        lambda nsn: (nsn[:2], nsn[2:-4], nsn[-4:]),
        ("({a}) {b}-{c}", "{a} {b} {c}", "0{a} {b}-{c}", "({a}) {b}{c}"),
    ),
    "JP": PhonePlan(
        "81", "0",
        (("312345", 3, 2.0), ("612345", 3, 1.0), ("9012345", 3, 2.0), ("8012345", 3, 2.0)),
        _groups_fixed({"3": (1, 4, 4), "6": (1, 4, 4)}, (2, 4, 4)),
        ("0{g-}", "0{compact}", "(0{a}) {b}-{c}"),
    ),
    "IN": PhonePlan(
        "91", "0",
        (("8123456", 3, 2.0), ("9876543", 3, 2.0), ("1123456", 3, 1.0)),
        _groups_fixed({"1": (2, 4, 4)}, (5, 5)),
        ("0{g}", "{g}", "0{compact}", "0{a}-{rest}"),
    ),
    "AU": PhonePlan(
        "61", "0",
        (("25550", 4, 2.0), ("37010", 4, 1.0), ("75550", 4, 1.0), ("85550", 4, 1.0)),
        _groups_fixed({"4": (3, 3, 3)}, (1, 4, 4)),
        ("0{g}", "(0{a}) {b} {c}", "0{compact}"),
    ),
}

# Countries whose international call prefix is 00. Elsewhere (US 011, JP 010, AU 0011, BR 00
# plus a carrier code) nobody writes "0049 ...", and libphonenumber, told the country, would
# rightly read those digits as a national number.
_DIALS_00 = frozenset({"GB", "DE", "FR", "IT", "ES", "AM", "IN"})

_COUNTRY_WEIGHTS = (
    ("US", 22.0), ("GB", 14.0), ("DE", 12.0), ("FR", 10.0), ("IT", 7.0), ("ES", 7.0),
    ("AM", 4.0), ("BR", 7.0), ("JP", 6.0), ("IN", 6.0), ("AU", 5.0),
)
# fmt: on


def _new_nsn(dice: Dice, country: str, taken: set[tuple[str, str]]) -> str:
    """A national significant number not yet given to anyone (digits only)."""
    while True:
        if country == "US":
            nsn = dice.pick(_US_AREA_CODES) + "55501" + dice.digits(2)
        elif country == "AU" and dice.chance(0.1):
            nsn = dice.pick(_AU_FICTION_MOBILES)
        else:
            prefix, free, _ = dice.weighted(
                tuple(((p, f, w), w) for p, f, w in PHONE_PLANS[country].ranges)
            )
            nsn = prefix + dice.digits(free)
        if (country, nsn) not in taken:
            taken.add((country, nsn))
            return nsn


def e164_digits(country: str, nsn: str) -> str:
    """The project's normalised phone: E.164 without "+"."""
    return PHONE_PLANS[country].calling_code + nsn


def _format_national(dice: Dice, country: str, nsn: str) -> str:
    if country == "US":
        a, b, c = nsn[:3], nsn[3:6], nsn[6:]
        return dice.pick(
            (
                f"({a}) {b}-{c}",
                f"{a}-{b}-{c}",
                f"{a}.{b}.{c}",
                f"{a}{b}{c}",
                f"1-{a}-{b}-{c}",
                f"1 ({a}) {b}-{c}",
                f"{a} {b} {c}",
            )
        )
    plan = PHONE_PLANS[country]
    groups = plan.groups(nsn)
    fmt = dice.pick(plan.national_formats)
    return (
        fmt.replace("{g}", " ".join(groups))
        .replace("{g.}", ".".join(groups))
        .replace("{g-}", "-".join(groups))
        .replace("{compact}", nsn)
        .replace("{rest}", "".join(groups[1:]))
        .replace("{a}", groups[0])
        .replace("{b}", groups[1] if len(groups) > 1 else "")
        .replace("{c}", "".join(groups[2:]))
    )


def _format_international(dice: Dice, country: str, nsn: str) -> str:
    plan = PHONE_PLANS[country]
    cc = plan.calling_code
    groups = (nsn[:3], nsn[3:6], nsn[6:]) if country == "US" else plan.groups(nsn)
    spaced = " ".join(groups)
    options = [
        (f"+{cc}{nsn}", 4.0),
        (f"+{cc} {spaced}", 5.0),
        (f"+{cc}-{'-'.join(groups)}", 1.5),
        (f"+{cc}.{'.'.join(groups)}", 0.5),
        (f"+{cc} ({groups[0]}) {' '.join(groups[1:])}", 1.0),
    ]
    if country in _DIALS_00:
        options += [(f"00{cc} {spaced}", 2.0), (f"00{cc}{nsn}", 1.0)]
    if plan.trunk_prefix:
        # "+44 (0)20 ..." keeps the trunk zero in brackets; "+44 020 ..." keeps it outright.
        options += [
            (f"+{cc} (0){spaced}", 1.5),
            (f"+{cc} ({plan.trunk_prefix}){nsn}", 0.5),
            (f"+{cc} {plan.trunk_prefix}{spaced}", 0.7),
        ]
    return dice.weighted(options)


def _invalid_phone(dice: Dice, country: str, nsn: str) -> str:
    cc = PHONE_PLANS[country].calling_code
    kind = dice.pick(("too_short", "letters", "extension", "too_long", "placeholder", "ws_only"))
    if kind == "too_short":
        return dice.pick((nsn[:4], f"+{cc} {nsn[:3]}", f"{nsn[:2]}-{nsn[2:5]}"))
    if kind == "letters":
        return dice.pick(
            (
                "1-800-FLOWERS",
                f"+{cc} {nsn[:4]}XXXX",
                "call me",
                "see notes",
                f"{nsn[:3]}-ABC-{nsn[-4:]}",
            )
        )
    if kind == "extension":
        return dice.pick((f"+{cc} {nsn} ext. 12", f"+{cc}{nsn} x99", f"{nsn} ext 4021"))
    if kind == "too_long":
        return f"+{cc} {nsn}{dice.digits(8)}"
    if kind == "placeholder":
        return dice.pick(("n/a", "N/A", "-", "0", "none", "+"))
    return dice.pick((" ", "\t", "  "))


def _messy_phone(dice: Dice, country: str, nsn: str) -> tuple[str | None, str]:
    """(delivered phone, format kind)."""
    kind = dice.weighted(
        (
            ("national", 36.0),
            ("international", 42.0),
            ("cc_without_plus", 0.6),
            ("sha256_lower", 2.0),
            ("sha256_upper", 1.0),
            ("missing", 6.0),
            ("invalid", 3.5),
            ("nbsp", 0.3),
        )
    )
    value: str | None
    if kind == "national":
        value = _format_national(dice, country, nsn)
    elif kind == "international":
        value = _format_international(dice, country, nsn)
    elif kind == "cc_without_plus":
        # TikTok's own example of a number to normalise: 374-93-828222 (docs/tiktok-api.md §6.2).
        plan = PHONE_PLANS[country]
        groups = (nsn[:3], nsn[3:6], nsn[6:]) if country == "US" else plan.groups(nsn)
        value = "-".join((plan.calling_code, *groups))
    elif kind == "sha256_lower":
        value = sha256_hex(e164_digits(country, nsn))
    elif kind == "sha256_upper":
        value = sha256_hex(e164_digits(country, nsn)).upper()
    elif kind == "missing":
        value = None
    elif kind == "invalid":
        value = _invalid_phone(dice, country, nsn)
    else:
        value = f"+{PHONE_PLANS[country].calling_code}{_NBSP}{nsn}"
    if value is not None and kind in ("national", "international") and dice.chance(0.12):
        if dice.chance(0.2):
            value = value.replace(" ", "\t", 1) if " " in value else "\t" + value
        else:
            value = _with_whitespace(dice, value)
    return value, kind


def _messy_country(dice: Dice, country: str, phone: str | None) -> str | None:
    kind = dice.weighted(
        (
            ("exact", 80.0),
            ("lower", 6.0),
            ("padded", 4.0),
            ("missing", 7.0),
            ("uk", 1.0),
            ("other", 2.0),
        )
    )
    if kind == "lower":
        return country.lower()
    if kind == "padded":
        return _with_whitespace(dice, country if dice.chance(0.6) else country.lower())
    if kind == "missing":
        return None
    if kind == "uk" and country == "GB":
        return "UK"  # not ISO-3166, but what people type
    if kind == "other" and phone is not None and phone.lstrip(" \t").startswith("+"):
        # Lives elsewhere; harmless because the number carries its own country code.
        return dice.pick([c for c, _ in _COUNTRY_WEIGHTS if c != country])
    return country


# --------------------------------------------------------------------------------------------
# Advertising ids
# --------------------------------------------------------------------------------------------

LIMIT_AD_TRACKING_ID = "00000000-0000-0000-0000-000000000000"


def _uuid4(seed: int, device_id: int) -> str:
    h = hashlib.sha256(f"demo-device:{seed}:{device_id}".encode()).hexdigest()
    h = h[:12] + "4" + h[13:16] + "89ab"[int(h[16], 16) % 4] + h[17:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _messy_advertising_id(dice: Dice, platform: str, maid: str) -> tuple[str | None, str]:
    """The id as the backend stores it, and what the backend records it to be: `raw` (as the
    device reported it, however mangled), `md5` or `sha256` (hashed by an upstream system). The
    backend's record, not the value's shape, decides: 32 hex digits is just as well a UUID
    without hyphens, which must be hashed, never sent as an MD5."""
    native = maid.upper() if platform == "ios" else maid  # how each OS reports it
    kind = dice.weighted(
        (
            ("native", 62.0),
            ("other_case", 6.0),
            ("mixed_case", 4.0),
            ("whitespace", 6.0),
            ("limit_ad_tracking", 7.0 if platform == "ios" else 3.0),
            ("garbage", 3.0),
            ("md5", 4.0),
            ("sha256", 4.0),
            ("missing", 4.0),
        )
    )
    if kind == "native":
        return native, "raw"
    if kind == "other_case":
        return (maid if platform == "ios" else maid.upper()), "raw"
    if kind == "mixed_case":
        return "".join(c.upper() if i % 2 else c for i, c in enumerate(maid)), "raw"
    if kind == "whitespace":
        return _with_whitespace(dice, native), "raw"
    if kind == "limit_ad_tracking":
        return LIMIT_AD_TRACKING_ID, "raw"
    if kind == "garbage":
        garbage = dice.pick(
            (
                "unknown",
                "(null)",
                "N/A",
                "0",
                "-",
                maid[:18],
                "{" + native + "}",
                native.replace("-", "_"),
                "IDFA_NOT_AVAILABLE",
                maid + "0",
            )
        )
        return garbage, "raw"
    if kind == "md5":
        digest = md5_hex(maid)
        return (digest if dice.chance(0.8) else digest.upper()), "md5"
    if kind == "sha256":
        digest = sha256_hex(maid)
        return (digest if dice.chance(0.8) else digest.upper()), "sha256"
    return None, "raw"


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoData:
    customers: list[Row]
    devices: list[Row]


def _lifetime_value(dice: Dice) -> Decimal:
    lo, hi = dice.weighted(
        (
            ((0, 9_999), 38.0),
            ((10_000, 49_999), 32.0),
            ((50_000, 199_999), 21.0),
            ((200_000, 1_500_000), 9.0),
        )
    )
    return Decimal(dice.between(lo, hi)) / 100


def _customer_days(dice: Dice) -> list[tuple[int, int | None]]:
    """(signup_day, churn_day) per customer, with exact counts for the day-1 movers."""
    order = dice.shuffled(range(N_CUSTOMERS))
    signup_1 = set(order[:N_SIGNUP_ON_DAY_1])
    cut = N_SIGNUP_ON_DAY_1
    churn_1 = set(order[cut : cut + N_CHURN_ON_DAY_1])
    cut += N_CHURN_ON_DAY_1
    churned = set(order[cut : cut + N_CHURNED_BEFORE])
    cut += N_CHURNED_BEFORE
    churn_later = set(order[cut : cut + N_CHURN_LATER])
    days: list[tuple[int, int | None]] = []
    for i in range(N_CUSTOMERS):
        signup = 1 if i in signup_1 else -dice.below(721)
        churn: int | None = None
        if i in churn_1:
            churn = 1
        elif i in churned:
            churn = dice.between(signup, 0)
        elif i in churn_later:
            churn = dice.between(2, 90)
        days.append((signup, churn))
    return days


def generate_customers(dice: Dice) -> list[Row]:
    taken_emails: set[str] = set()
    taken_phones: set[tuple[str, str]] = set()
    canonical: list[tuple[str, str]] = []  # (country, clean email) per customer so far
    gmail_addresses: list[str] = []
    days = _customer_days(dice)
    rows: list[Row] = []
    for i in range(N_CUSTOMERS):
        country = dice.weighted(_COUNTRY_WEIGHTS)
        first_display, first_ascii = dice.pick(_FIRST_NAMES[country])
        share = dice.weighted((("own", 95.5), ("same_address", 3.0), ("gmail_variant", 1.5)))
        if share == "same_address" and canonical:
            # Two customer records, one person (or one shared family inbox).
            email = dice.pick(canonical)[1]
        elif share == "gmail_variant" and gmail_addresses:
            # The same gmail mailbox spelt with or without dots: different to TikTok unless
            # tiktok_sync_email_strip_plus_and_dots is on.
            local = dice.pick(gmail_addresses).split("@")[0]
            local = local.replace(".", "") if "." in local else f"{local[:1]}.{local[1:]}"
            email = f"{local}@gmail.test"
            if email in taken_emails:
                email = _canonical_email(dice, country, first_ascii, taken_emails)
            taken_emails.add(email)
        else:
            email = _canonical_email(dice, country, first_ascii, taken_emails)
        canonical.append((country, email))
        if email.endswith("@gmail.test"):
            gmail_addresses.append(email)

        nsn = _new_nsn(dice, country, taken_phones)
        phone, _ = _messy_phone(dice, country, nsn)
        if i > 0 and dice.chance(0.01):
            phone = rows[dice.below(i)]["phone"]  # a shared household or office number
        signup_day, churn_day = days[i]
        rows.append(
            {
                "customer_id": FIRST_CUSTOMER_ID + i,
                "first_name": first_display,
                "email": _messy_email(dice, email, first_display),
                "phone": phone,
                "country_code": _messy_country(dice, country, phone),
                "lifetime_value": _lifetime_value(dice),
                "is_newsletter_subscriber": dice.chance(0.62),
                "email_sha256_from_partner": _partner_email_hash(dice, email),
                "signup_day": signup_day,
                "churn_day": churn_day,
            }
        )
    return rows


def generate_devices(dice: Dice, customers: Sequence[Row], seed: int) -> list[Row]:
    owners: list[int] = []
    for customer in customers:
        if dice.chance(0.5):
            n = dice.weighted(((1, 70.0), (2, 22.0), (3, 8.0)))
            owners.extend([customer["customer_id"]] * n)
    n_devices = len(owners)
    order = dice.shuffled(range(n_devices))
    seen_day_1 = set(order[:N_DEVICES_SEEN_ON_DAY_1])
    edge = set(order[N_DEVICES_SEEN_ON_DAY_1 : N_DEVICES_SEEN_ON_DAY_1 + N_DEVICES_AT_WINDOW_EDGE])
    rows: list[Row] = []
    maids: dict[str, list[str]] = {"ios": [], "android": []}
    for j, customer_id in enumerate(owners):
        device_id = FIRST_DEVICE_ID + j
        platform = "ios" if dice.chance(0.45) else "android"
        maid = _uuid4(seed, device_id)
        if maids[platform] and dice.chance(0.005):
            maid = dice.pick(maids[platform])  # one tablet, two family members' accounts
        maids[platform].append(maid)
        if j in seen_day_1:
            last_seen = 1
        elif j in edge:
            last_seen = 1 - ACTIVE_WINDOW_DAYS
        elif dice.chance(0.75):
            last_seen = -dice.below(ACTIVE_WINDOW_DAYS - 1)  # 0 .. -28
        else:
            last_seen = -dice.between(ACTIVE_WINDOW_DAYS, 200)
        advertising_id, advertising_id_format = _messy_advertising_id(dice, platform, maid)
        rows.append(
            {
                "device_id": device_id,
                "customer_id": customer_id,
                "platform": platform,
                "advertising_id": advertising_id,
                "advertising_id_format": advertising_id_format,
                "last_seen_day": last_seen,
            }
        )
    return rows


def generate(seed: int = SEED) -> DemoData:
    """All demo rows, as the warehouse holds them after ``dbt seed``."""
    dice = Dice(seed)
    customers = generate_customers(dice)
    devices = generate_devices(dice, customers, seed)
    return DemoData(customers=customers, devices=devices)


# --------------------------------------------------------------------------------------------
# The demo audiences, mirrored from integration_tests/models/audiences/demo/*.sql
# --------------------------------------------------------------------------------------------

# the characters remove_whitespace deletes (macros/cross_engine/whitespace_characters.sql)
_WHITESPACE = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u200b\u202f\u205f\u3000\ufeff]")
_SHA256_SHAPE = re.compile(r"[0-9a-fA-F]{64}")


def _shape(value: object) -> str:
    """'sha256' or 'raw', as the high-value model sorts a phone: 64 hex digits is no number."""
    if value is None:
        return "raw"
    squeezed = _WHITESPACE.sub("", str(value))
    return "sha256" if _SHA256_SHAPE.fullmatch(squeezed) else "raw"


def is_active_customer(customer: Row, demo_day: int) -> bool:
    churn = customer["churn_day"]
    return bool(customer["signup_day"] <= demo_day and (churn is None or churn > demo_day))


def is_recently_seen(device: Row, demo_day: int) -> bool:
    return bool(demo_day - ACTIVE_WINDOW_DAYS < device["last_seen_day"] <= demo_day)


def audience_rows(data: DemoData, demo_day: int) -> dict[str, list[Row]]:
    """Each demo audience's rows (its model's output columns) as of ``demo_day``."""
    active = [c for c in data.customers if is_active_customer(c, demo_day)]
    active_ids = {c["customer_id"] for c in active}
    high_value = [
        {
            "customer_id": c["customer_id"],
            "email": c["email"],
            "phone": None if _shape(c["phone"]) == "sha256" else c["phone"],
            "phone_sha256": c["phone"] if _shape(c["phone"]) == "sha256" else None,
            "country_code": c["country_code"],
        }
        for c in active
        if c["lifetime_value"] >= HIGH_VALUE_MIN_LIFETIME_VALUE
    ]
    newsletter = [
        {"customer_id": c["customer_id"], "email_sha256": c["email_sha256_from_partner"]}
        for c in active
        if c["is_newsletter_subscriber"]
    ]
    mobile = []
    for d in data.devices:
        if not (is_recently_seen(d, demo_day) and d["customer_id"] in active_ids):
            continue
        shape, platform, maid = d["advertising_id_format"], d["platform"], d["advertising_id"]
        row: Row = {"device_id": d["device_id"], "customer_id": d["customer_id"]}
        for os_name, raw_col in (("ios", "idfa"), ("android", "gaid")):
            mine = platform == os_name
            row[raw_col] = maid if mine and shape == "raw" else None
            row[f"{raw_col}_md5"] = maid if mine and shape == "md5" else None
            row[f"{raw_col}_sha256"] = maid if mine and shape == "sha256" else None
        mobile.append(row)
    return {
        "demo_high_value_customers": high_value,
        "demo_newsletter_subscribers": newsletter,
        "demo_mobile_app_users": mobile,
    }


def audience_changes(
    data: DemoData, before: int = 0, after: int = 1
) -> dict[str, dict[str, list[int]]]:
    """Row keys that enter and leave each audience between two demo days."""
    key = {"demo_mobile_app_users": "device_id"}
    old, new = audience_rows(data, before), audience_rows(data, after)
    out: dict[str, dict[str, list[int]]] = {}
    for name in old:
        k = key.get(name, "customer_id")
        was = {r[k] for r in old[name]}
        now = {r[k] for r in new[name]}
        out[name] = {"entered": sorted(now - was), "left": sorted(was - now)}
    return out


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _csv_cell(value: object) -> str:
    if value is None:
        return ""  # read back as NULL by dbt seed
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def to_csv(rows: Sequence[Row], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row[c]) for c in columns])
    return buffer.getvalue()


def seed_files(seed: int = SEED) -> dict[Path, str]:
    data = generate(seed)
    return {
        SEED_DIR / "demo_crm_customers.csv": to_csv(data.customers, CUSTOMER_COLUMNS),
        SEED_DIR / "demo_app_devices.csv": to_csv(data.devices, DEVICE_COLUMNS),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the seed files differ from the generator"
    )
    args = parser.parse_args(argv)
    files = seed_files()
    if args.check:
        stale = [p for p, text in files.items() if not p.is_file() or p.read_text() != text]
        for path in stale:
            print(f"stale: {path.relative_to(REPO_ROOT)} (run scripts/generate_demo_data.py)")
        return 1 if stale else 0
    SEED_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_bytes(text.encode("utf-8"))
        print(f"wrote {path.relative_to(REPO_ROOT)} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

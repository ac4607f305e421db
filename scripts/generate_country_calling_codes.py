"""Generate macros/normalise/country_calling_codes.sql from libphonenumber's metadata.

Source: the region metadata of libphonenumber (Google, Apache-2.0,
https://github.com/google/libphonenumber, resources/PhoneNumberMetadata.xml)
as shipped by its Python port `phonenumbers` (Apache-2.0). The committed macro
was generated with phonenumbers 9.0.43 (the script prints the version and
writes it into the macro's header). Re-run after upgrading phonenumbers, then
run tests/test_phone_parity.py and commit:

    .venv/bin/python scripts/generate_country_calling_codes.py

The output is deterministic (sorted by country_code, no timestamps).

The lookup is a macro holding the rows as SQL, not a seed: the audience
materialization reads it inline, so an audience model needs no dbt ref to it
(a ref made only while the materialization runs is one dbt cannot see when it
parses the user's project) and nothing extra lands in the user's warehouse.
The rows are one `select` per region joined by `union all`, the one form every
engine reads (Redshift and BigQuery have no VALUES list in FROM). The first
row casts its text columns, so a column that is null there (AC has no trunk
prefix) is text on every engine, not an untyped or integer null; integers and
booleans are plain literals, typed the same way everywhere.

One row per region libphonenumber knows (ISO-3166 alpha-2 plus a few
territories such as XK, AC, TA); the non-geographic "001" entities (+800,
+808, +870, +878, +881, +882, +883, +888, +979) are skipped, so the SQL
rejects those numbers.

The SQL in macros/normalise/phone_e164.sql cannot run libphonenumber's regular
expressions (five engines, five regex dialects, no patterns stored as data),
so this script reduces each region's rules to facts that plain string
functions can check (lengths and literal leading digits). The reduction only
ever errs towards rejecting; the script asserts what it relies on and probes
each reduced national-prefix rule with every 1- to 3-digit start at every
length the SQL could emit, and tests/test_phone_parity.py compares the SQL
with libphonenumber on a corpus:

* national_min_length, national_max_length: the extremes of the lengths below.

* national_possible_lengths: the general description's possible lengths,
  e.g. "|7|9|10|". A national significant number of another length is never
  emitted. libphonenumber's own is_possible_number check uses these lengths.
* trunk_prefix: the national (trunk) prefix, e.g. "0", "8" (RU), "1" (NANP),
  "06" (HU); empty when the country has none (IT, ES, NO, ...).
* trunk_lookalike_prefixes: where a national significant number may itself
  begin with the trunk digits, as "|trunk+digit:length|" entries (RU 800
  numbers begin with the trunk 8: "|80:10|...", JP has 00 numbers, TH its
  13-digit 001800 numbers). A number with a leading trunk prefix that is not
  listed loses the prefix, as in libphonenumber; a listed one is kept or
  rejected, decided from lengths.
* special_national_prefixes: the leading digits where libphonenumber's
  national-prefix-for-parsing rule does more than drop the plain trunk prefix
  (carrier selection codes such as GB 180020, AU 1831/1832, BR 90, CO 03/05/...,
  CN 11/12/179 IP-dialling prefixes, JP 003768, KR 081-088, BY "0" and "80").
  Entries are "|digits|" (any length) or "|digits:length|" (only numbers of
  that many digits, e.g. `$`-anchored rules, or a carrier code that needs 10
  more digits after it); only lengths the SQL could emit are listed. A number
  starting with one of them is rejected, never guessed.
* national_format_supported: false when the special prefixes cannot be
  listed compactly (AR: any of its hundreds of area codes followed by the
  mobile token 15 is rewritten); such a country's numbers are accepted only in
  international form, and only when they do not start with a listed prefix.
* exact_international_prefixes: every string the region's international (IDD)
  prefix pattern matches, e.g. "|00|" (GB, DE), "|011|" (US), "|810|" (RU),
  AU's "|0011|0014|...|14110011|...|". libphonenumber strips the IDD
  re.match finds, unless a 0 follows it; the SQL strips the longest listed
  entry, which the script checks is the same string (HK's
  "00(?:30|5[09]|[126-9]?)" has nested alternatives). An alternative with too
  many strings (CN's "1(?:[12]\\d|79)\\d\\d00", 2,100) is left out: numbers
  written with it stay rejected (next column).
* international_prefixes: every literal prefix the region's IDD pattern can
  match (cut short where any digit may follow). A national-format number that
  starts with one is rejected: libphonenumber would read it as international.
* is_main_country_for_code: the region libphonenumber uses for a calling code
  shared by several regions (US for 1, RU for 7, GB for 44); its rules apply
  to numbers written in international form.

It also writes macros/normalise/phone_number_patterns.sql: per calling code,
what libphonenumber's is_valid_number accepts as a national significant
number, so that the SQL hashes no number libphonenumber calls invalid (such a
hash matches nobody). is_valid_number finds the number's region among the
regions sharing the calling code, in libphonenumber's order: the first region
whose leading-digits pattern starts the number, or, for a region without one,
whose number patterns match it; the number is valid when one of that region's
per-type patterns (fixed line, mobile, toll free, ...) matches it in full. So
each calling code gets a list of steps, one per region, each a leading-digits
pattern (none: the region is tried on its patterns alone) and the union of the
region's per-type patterns; consecutive steps without leading digits merge into
one, so a code of one region is one pattern. Not the general description's
pattern: it accepts numbers no type does. The patterns are rewritten to the
POSIX extended syntax every engine reads (`\\d` -> `[0-9]`, `(?:` -> `(`), and
the script asserts that nothing else remains (no other escape, lookaround,
lazy or open-ended quantifier, bound over 255) and that the steps agree with
is_valid_number on every region's example numbers with each digit varied.

And it writes macros/normalise/phone_calling_code_patterns.sql: per region, the
patterns with which libphonenumber decides whether digits written without "+"
or an international prefix that start with the region's calling code carry it
(code_patterns), checked against libphonenumber on the region's example numbers.
"""

from __future__ import annotations

import functools
import random
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    SUPPORTED_REGIONS,
    region_code_for_country_code,
)

try:  # Python >= 3.11 moved the regex parser.
    import re._constants as sre_c
    import re._parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

OUT = Path(__file__).resolve().parents[1] / "macros" / "normalise" / "country_calling_codes.sql"
PATTERNS_OUT = OUT.with_name("phone_number_patterns.sql")
CODE_PATTERNS_OUT = OUT.with_name("phone_calling_code_patterns.sql")
# The per-type descriptions is_valid_number tries (its general description only
# pre-filters; unused types are None or have no pattern).
NUMBER_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)
TEXT_COLUMNS = frozenset(
    {
        "country_code",
        "calling_code",
        "trunk_prefix",
        "national_possible_lengths",
        "trunk_lookalike_prefixes",
        "exact_international_prefixes",
        "international_prefixes",
        "special_national_prefixes",
    }
)
HEADER = [
    "country_code",
    "calling_code",
    "trunk_prefix",
    "national_min_length",
    "national_max_length",
    "national_format_supported",
    "is_main_country_for_code",
    "national_possible_lengths",
    "trunk_lookalike_prefixes",
    "exact_international_prefixes",
    "international_prefixes",
    "special_national_prefixes",
]
DIGITS = frozenset("0123456789")
# The SQL compares at most this many leading digits against a prefix list.
MAX_PREFIX = 6
# Above this many special prefixes a region's national format is unsupported.
MAX_SPECIAL = 120
MAX_LEN = 20
# An alternative of an IDD pattern matching more strings than this is not listed.
MAX_IDD_STRINGS = 100
# The longest IDD string the SQL looks for (_phone_international_digits in phone_e164.sql).
MAX_IDD_LENGTH = 8


class Unsupported(Exception):
    """A regex construct the analysis does not model."""


# --- a tiny analysis of libphonenumber's (simple, digit-only) regexes -----------------------


def _class_chars(items: list) -> frozenset[str]:
    chars: set[str] = set()
    negate = False
    for op, av in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            chars.add(chr(av))
        elif op is sre_c.RANGE:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        elif op is sre_c.CATEGORY and av is sre_c.CATEGORY_DIGIT:
            chars.update(DIGITS)
        else:
            raise Unsupported(f"class item {op} {av}")
    chars &= DIGITS
    return frozenset(DIGITS - chars) if negate else frozenset(chars)


def _item_chars(op, av) -> frozenset[str] | None:
    """The digits one single-character item matches, or None if not such an item."""
    if op is sre_c.LITERAL:
        return frozenset({chr(av)}) & DIGITS
    if op is sre_c.IN:
        return _class_chars(av)
    if op is sre_c.ANY:
        return DIGITS
    return None


def lengths_of(items: Iterable) -> frozenset[int]:
    """Every length (<= MAX_LEN) of a string the item sequence can match."""
    result = frozenset({0})
    for op, av in items:
        if _item_chars(op, av) is not None:
            step = frozenset({1})
        elif op is sre_c.SUBPATTERN:
            step = lengths_of(av[3])
        elif op is sre_c.BRANCH:
            step = frozenset().union(*(lengths_of(alt) for alt in av[1]))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            one = lengths_of(sub)
            step, acc = frozenset(), frozenset({0})
            for k in range(min(hi, MAX_LEN) + 1):
                if k >= lo:
                    step |= acc
                acc = frozenset(a + b for a in acc for b in one if a + b <= MAX_LEN)
                if not acc:
                    break
        elif op is sre_c.AT:
            step = frozenset({0})
        else:
            raise Unsupported(f"{op} {av}")
        result = frozenset(a + b for a in result for b in step if a + b <= MAX_LEN)
    return result


# A path through a pattern: (digits matched so far, state, a capture group took part,
# the least length of a number the path can match in full). state "open": the match
# may go on; "cut": it goes on with digits we did not spell out (any digit follows, or
# MAX_PREFIX was reached), so `digits` is only a prefix of what it matches.
Path_ = tuple[str, str, bool, int]


def _single_any_digit(items: list) -> bool:
    return len(items) == 1 and _item_chars(*items[0]) == DIGITS


def _expand(items: Iterable, paths: frozenset[Path_], limit: int) -> frozenset[Path_]:
    for op, av in items:
        chars = _item_chars(op, av)
        open_ = [p for p in paths if p[1] == "open"]
        done = {p for p in paths if p[1] != "open"}
        if chars is not None:
            if chars == DIGITS:
                # Any digit follows: everything starting with this prefix may match.
                done |= {(s, "cut", g, n + 1) for s, _, g, n in open_}
            else:
                for s, _, g, _n in open_:
                    for ch in sorted(chars):
                        t = s + ch
                        done.add((t, "cut" if len(t) >= limit else "open", g, len(t)))
        elif op is sre_c.SUBPATTERN:
            group = av[0]
            entering = frozenset((s, st, g or group is not None, n) for s, st, g, n in open_)
            done |= _expand(av[3], entering, limit)
        elif op is sre_c.BRANCH:
            for alt in av[1]:
                done |= _expand(alt, frozenset(open_), limit)
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and _single_any_digit(list(av[2])):
            lo, _hi, _sub = av  # \d{lo,hi}: cut, but remember how many digits must follow
            if lo == 0:
                done |= set(open_)
            done |= {(s, "cut", g, n + max(lo, 1)) for s, _, g, n in open_}
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            cur = frozenset(open_)  # the paths after k repetitions
            last = min(hi, limit)
            for k in range(last + 1):
                # A cut path is the prefix of a possible match whatever follows.
                done |= {p for p in cur if k >= lo or p[1] != "open"}
                still_open = frozenset(p for p in cur if p[1] == "open")
                if not still_open:
                    break
                if k == last:
                    if hi > k:  # more repetitions than we spell out
                        done |= {(s, "cut", g, n) for s, _, g, n in still_open}
                    break
                cur = _expand(sub, still_open, limit)
        elif op is sre_c.AT:
            done |= set(open_)
        else:
            raise Unsupported(f"{op} {av}")
        paths = frozenset(done)
    return paths


_START: frozenset[Path_] = frozenset({("", "open", False, 0)})


def alternatives(pattern: str) -> list[list]:
    parsed = list(sre_parse.parse(pattern))
    if len(parsed) == 1 and parsed[0][0] is sre_c.BRANCH:
        return [list(alt) for alt in parsed[0][1][1]]
    return [parsed]


class _Nfa:
    """A Thompson NFA over digits for one pattern (full-match semantics)."""

    def __init__(self, pattern: str) -> None:
        self.moves: list[list[tuple[frozenset[str] | None, int]]] = [[]]
        self.accept = self._build(list(sre_parse.parse(pattern)), 0)

    def _new(self) -> int:
        self.moves.append([])
        return len(self.moves) - 1

    def _build(self, items: list, start: int) -> int:
        cur = start
        for op, av in items:
            chars = _item_chars(op, av)
            if chars is not None:
                end = self._new()
                self.moves[cur].append((chars, end))
                cur = end
            elif op is sre_c.SUBPATTERN:
                cur = self._build(list(av[3]), cur)
            elif op is sre_c.BRANCH:
                end = self._new()
                for alt in av[1]:
                    self.moves[self._build(list(alt), cur)].append((None, end))
                cur = end
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
                lo, hi, sub = av
                for _ in range(lo):
                    cur = self._build(list(sub), cur)
                end = self._new()
                self.moves[cur].append((None, end))
                if hi > MAX_LEN:  # unbounded: loop
                    self.moves[self._build(list(sub), end)].append((None, end))
                else:
                    for _ in range(hi - lo):
                        cur = self._build(list(sub), cur)
                        self.moves[cur].append((None, end))
                cur = end
            elif op is sre_c.AT:
                continue  # libphonenumber full-matches these patterns anyway
            else:
                raise Unsupported(f"{op} {av}")
        return cur

    def _closure(self, states: set[int]) -> frozenset[int]:
        todo, seen = list(states), set(states)
        while todo:
            for chars, target in self.moves[todo.pop()]:
                if chars is None and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return frozenset(seen)

    def _step(self, states: frozenset[int], digits: frozenset[str]) -> frozenset[int]:
        nxt = {t for s in states for chars, t in self.moves[s] if chars and chars & digits}
        return self._closure(nxt)

    def lengths_starting_with(self, prefix: str) -> frozenset[int]:
        """Lengths of the strings the pattern fully matches that start with `prefix`."""
        states = self._closure({0})
        for ch in prefix:
            states = self._step(states, frozenset(ch))
        found = set()
        for n in range(len(prefix), MAX_LEN + 1):
            if not states:
                break
            if self.accept in states:
                found.add(n)
            states = self._step(states, DIGITS)
        return frozenset(found)


def literal_prefixes(pattern: str) -> set[str]:
    """Prefixes (cut where any digit may follow) covering every match of the pattern."""
    return {p[0] for p in _expand(sre_parse.parse(pattern), _START, MAX_PREFIX)}


def special_prefixes(npfp: str | None, trunk: str | None, lengths: Iterable[int]) -> set[str]:
    """Entries "d" / "d:L" where the national-prefix rule may do more than drop `trunk`,
    for numbers of the given lengths (the only ones the SQL may emit)."""
    entries: set[str] = set()
    if not npfp:
        return entries
    relevant = sorted(set(lengths))
    plain_trunk_seen = False
    for alt in alternatives(npfp):
        # `$`-anchored rules (NANP 7-digit local numbers) act on numbers of one length only
        anchored = bool(alt) and alt[-1] == (sre_c.AT, sre_c.AT_END)
        alt_lengths = lengths_of(alt) if anchored else frozenset(range(MAX_LEN + 1))
        for s, st, took_group, least in _expand(alt, _START, MAX_PREFIX):
            complete = st == "open"
            if complete and not took_group and s == "":
                continue  # matches nothing: leaves the number alone, like the plain rule
            if complete and not took_group and trunk and s == trunk:
                plain_trunk_seen = True
                continue  # exactly the plain trunk prefix
            if s == "":
                raise Unsupported("rule may act on every number")
            hit = [n for n in relevant if n >= max(least, len(s)) and n in alt_lengths]
            if hit == relevant:
                entries.add(s)
            else:
                entries.update(f"{s}:{n}" for n in hit)
    if trunk and not plain_trunk_seen:
        entries.add(trunk)
    # "d" covers "d:L" and every longer prefix of it
    return {
        e
        for e in entries
        if not any(e != o and e.split(":")[0].startswith(o) for o in entries if ":" not in o)
    }


def coarsen(entries: set[str]) -> set[str]:
    """Fewer, shorter prefixes covering at least the same numbers."""
    width = MAX_PREFIX
    while len(entries) > MAX_SPECIAL and width > 1:
        width -= 1
        entries = {e.split(":")[0][:width] for e in entries}
    return entries


# --- checks: the reduction never claims "plain" where libphonenumber does something else ----


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regex_effect(npfp: str | None, transform: str | None, number: str) -> tuple[str, int]:
    """What libphonenumber's _maybe_strip_national_prefix_carrier_code does, before its
    viability checks: ('none', 0), ('strip', k) or ('transform', k)."""
    if not npfp:
        return ("none", 0)
    m = _compiled(npfp).match(number)
    if not m or m.end() == 0:
        return ("none", 0)
    groups = m.groups()
    if transform and groups and groups[-1] is not None:
        return ("transform", m.end())
    return ("strip", m.end())


def _is_special(entries: set[str], number: str) -> bool:
    for k in range(1, MAX_PREFIX + 1):
        head = number[:k]
        if head in entries or f"{head}:{len(number)}" in entries:
            return True
    return False


def _probes(entries: set[str], trunk: str | None, lengths: Iterable[int]) -> Iterable[str]:
    rnd = random.Random(20240601)
    heads = {str(i) for i in range(10)} | {f"{i:02d}" for i in range(100)}
    heads |= {f"{i:03d}" for i in range(1000)}
    for e in entries:
        s = e.split(":")[0]
        heads |= {s, s[:-1]} | {s + d for d in "0123456789"}
    if trunk:
        heads |= {trunk + h for h in list(heads) if len(h) <= 3}
    fills = [d * MAX_LEN for d in "0123456789"]
    fills += ["".join(rnd.choice("0123456789") for _ in range(MAX_LEN)) for _ in range(2)]
    for n in lengths:
        for h in heads:
            if len(h) <= n:
                for f in fills:
                    yield (h + f)[:n]


def check_region(meta, entries: set[str], trunk: str | None, lengths: Iterable[int]) -> None:
    npfp, transform = meta.national_prefix_for_parsing, meta.national_prefix_transform_rule
    for number in _probes(entries, trunk, lengths):
        if _is_special(entries, number):
            continue
        plain = ("strip", len(trunk)) if trunk and number.startswith(trunk) else ("none", 0)
        actual = _regex_effect(npfp, transform, number)
        if actual != plain:
            raise AssertionError(f"{meta.id}: {number} -> {actual}, model says {plain}")


# --- the international (IDD) prefix: the strings the SQL strips ---------------------------


def matched_strings(items: Iterable, limit: int) -> set[str]:
    """Every string the item sequence matches; Unsupported when they are more than `limit`
    or a repetition is unbounded."""
    found = {""}
    for op, av in items:
        chars = _item_chars(op, av)
        if chars is not None:
            step = set(chars)
        elif op is sre_c.SUBPATTERN:
            step = matched_strings(av[3], limit)
        elif op is sre_c.BRANCH:
            step = set().union(*(matched_strings(alt, limit) for alt in av[1]))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            lo, hi, sub = av
            if hi > MAX_LEN:
                raise Unsupported("unbounded repetition")
            one, step, acc = matched_strings(sub, limit), set(), {""}
            for k in range(hi + 1):
                if k >= lo:
                    step |= acc
                acc = {a + b for a in acc for b in one}
        else:
            raise Unsupported(f"{op} {av}")
        found = {a + b for a in found for b in step}
        if len(found) > limit:
            raise Unsupported(f"more than {limit} strings")
    return found


def exact_idd_strings(idd: str) -> tuple[set[str], bool]:
    """The strings of the IDD pattern's top-level alternatives that match few enough, and
    whether that is all of them."""
    found: set[str] = set()
    complete = True
    for alt in alternatives(idd):
        try:
            found |= matched_strings(alt, MAX_IDD_STRINGS)
        except Unsupported:
            complete = False  # such numbers start with a listed international prefix
    assert "" not in found and all(len(s) <= MAX_IDD_LENGTH for s in found), idd
    return found, complete


def idd_reading(strings: set[str], digits: str) -> str | None:
    """The SQL's reading of national-format digits (_phone_international_digits): the
    digits after the longest listed string they start with, unless a 0 follows it; None
    when they are not read as international."""
    for k in range(min(MAX_IDD_LENGTH, len(digits)), 0, -1):
        if digits[:k] in strings:
            return None if digits[k : k + 1] == "0" else digits[k:]
    return None


def check_idd(region: str, idd: str, strings: set[str], complete: bool, prefixes: set[str]) -> None:
    """The SQL reads an IDD exactly where libphonenumber's _maybe_strip_i18n_prefix_and_
    normalize does, on every listed string and every start of one followed by each digit
    and various digits; where a string is left out, the SQL may read fewer numbers as
    international, but only such that start with an international prefix (rejected)."""
    from phonenumbers.phonenumberutil import (
        CountryCodeSource,
        _maybe_strip_i18n_prefix_and_normalize,
    )

    if not idd:
        return
    heads = {s[:k] for s in strings | prefixes for k in range(len(s) + 1)}
    fills = ["", "0" * 12, "1" * 12, "0123456789" * 2, "9876543210" * 2]
    for head in sorted(heads):
        for digit in "0123456789":
            for fill in fills:
                digits = head + digit + fill
                source, rest = _maybe_strip_i18n_prefix_and_normalize(digits, idd)
                theirs = rest if source == CountryCodeSource.FROM_NUMBER_WITH_IDD else None
                ours = idd_reading(strings, digits)
                if ours is None and not complete and _is_special(prefixes, digits):
                    continue  # rejected as phone_ambiguous_prefix
                assert ours == theirs, (region, digits, ours, theirs)


# --- the rows ------------------------------------------------------------------------------


def region_row(region: str) -> dict[str, str]:
    meta = PhoneMetadata.metadata_for_region(region)
    general = meta.general_desc
    cc = str(meta.country_code)
    possible = sorted(general.possible_length)
    local_only = set(general.possible_length_local_only)
    pattern_lengths = lengths_of(sre_parse.parse(general.national_number_pattern))
    # The SQL reads "length not possible" as "cannot match the national pattern". The pattern
    # matches only possible lengths, except US 7-digit numbers (local only); for those the
    # reading matters in one place, a national number written with its calling code, and
    # there no number of such a length can be emitted anyway (checked here).
    for extra in pattern_lengths - set(possible):
        assert extra in local_only, (region, extra)
        trunk_len = len(meta.national_prefix or "")
        for digits in (len(cc) + extra, len(cc) + trunk_len + extra):
            assert digits not in possible and digits - trunk_len not in possible, region
    # ... and a local-only length is never counted as possible.
    assert not (local_only & set(possible)), region
    assert not local_only or max(local_only) < possible[-1], region
    trunk = meta.national_prefix or None
    if trunk:
        assert trunk.isdigit(), region
    nfa = _Nfa(general.national_number_pattern)
    assert nfa.lengths_starting_with("") == pattern_lengths, region
    # "0" + one more digit is enough to tell most lookalikes apart (JP 00..., TH 001800...).
    lookalikes = (
        {f"{trunk}{d}:{n}" for d in "0123456789" for n in nfa.lengths_starting_with(trunk + d)}
        if trunk
        else set()
    )
    main_meta = PhoneMetadata.metadata_for_region(region_code_for_country_code(meta.country_code))
    # A number is emitted only with a possible length of its country and of the main
    # country of its calling code, possibly after a trunk prefix came off.
    emit_lengths = set(possible) | set(main_meta.general_desc.possible_length)
    relevant = emit_lengths | {n + len(trunk or "") for n in emit_lengths}
    if meta.national_prefix_for_parsing == trunk and not meta.national_prefix_transform_rule:
        entries: set[str] = set()
        supported = True
    else:
        try:
            entries = special_prefixes(meta.national_prefix_for_parsing, trunk, relevant)
            supported = len(entries) <= MAX_SPECIAL
        except Unsupported:
            entries = {d for d in "0123456789"}
            supported = False
        entries = coarsen(entries)
    if entries or not supported:
        check_region(meta, entries, trunk, sorted(relevant))

    idd = meta.international_prefix or ""
    idd_prefixes = literal_prefixes(idd) if idd else set()
    assert "" not in idd_prefixes, region
    idd_strings, complete = exact_idd_strings(idd) if idd else (set(), True)
    check_idd(region, idd, idd_strings, complete, idd_prefixes)
    return {
        "country_code": region,
        "calling_code": cc,
        "trunk_prefix": trunk or "",
        "national_min_length": str(possible[0]),
        "national_max_length": str(possible[-1]),
        "national_format_supported": str(supported).lower(),
        "is_main_country_for_code": str(
            region_code_for_country_code(meta.country_code) == region
        ).lower(),
        "national_possible_lengths": "|" + "|".join(str(n) for n in possible) + "|",
        "trunk_lookalike_prefixes": _listed(lookalikes),
        "exact_international_prefixes": _listed(idd_strings),
        "international_prefixes": _listed(idd_prefixes),
        "special_national_prefixes": _listed(entries),
    }


def _listed(values: set[str]) -> str:
    if not values:
        return ""
    ordered = sorted(
        values, key=lambda v: (v.split(":")[0], int(v.split(":")[1]) if ":" in v else 0)
    )
    return "|" + "|".join(ordered) + "|"


def _sql_value(column: str, value: str, first: bool) -> str:
    """One cell as a SQL literal; the values are digits, letters, "|" and ":" only."""
    assert re.fullmatch(r"[0-9A-Za-z|:]*", value), (column, value)
    if column not in TEXT_COLUMNS:
        return value  # an integer, or true / false
    literal = f"'{value}'" if value else "null"
    return f"cast({literal} as {{{{ text }}}})" if first else literal


def macro_sql(rows: list[dict[str, str]]) -> str:
    """The macro file: a select of one row per region, read inline by the normaliser."""
    selects = []
    for i, row in enumerate(rows):
        first = i == 0
        cells = [_sql_value(c, row[c], first) for c in HEADER]
        if first:
            cells = [f"{cell} as {column}" for cell, column in zip(cells, HEADER, strict=True)]
        selects.append("    select " + ", ".join(cells))
    return (
        "{#- Generated by scripts/generate_country_calling_codes.py from libphonenumber's\n"
        f"    metadata (phonenumbers {phonenumbers.__version__}); do not edit. "
        "The phone normaliser's\n"
        "    lookup, one row per region; the script's docstring says what each column\n"
        "    holds and why this is a macro rather than a seed. -#}\n"
        "{% macro country_calling_codes() %}\n"
        "  {%- set text = tiktok_sync.string_cast_type() -%}\n"
        + "\n    union all\n".join(selects)
        + "\n{% endmacro %}\n"
    )


# --- the number patterns: what is_valid_number accepts, per calling code -------------------

# One token of the POSIX ERE the SQL may hold: a digit, a class of digits and ranges,
# a parenthesis, "|", "?" or a bound {m} / {m,n}.
_ERE_TOKEN = re.compile(r"[0-9]|\[(?:[0-9](?:-[0-9])?)+\]|[()|?]|\{[0-9]+(?:,[0-9]+)?\}")
# Most repetitions a POSIX bound may ask for (RE_DUP_MAX; Postgres and Redshift refuse more).
_ERE_DUP_MAX = 255


def posix_ere(pattern: str) -> str:
    """libphonenumber's pattern in the portable syntax, asserting nothing else is left."""
    ere = pattern.replace("\\d", "[0-9]").replace("(?:", "(")
    tokens = _ERE_TOKEN.findall(ere)
    assert "".join(tokens) == ere, f"engine-specific syntax left in {ere!r}"
    depth = 0
    for before, token in zip([None, *tokens], tokens, strict=False):
        if token == "?" or token.startswith("{"):
            # a quantifier follows an atom: never "??" or "}?" (lazy), "(?", "|?"
            assert before is not None and (before[-1] in "0123456789])"), ere
            assert before != "?" and not before.startswith("{"), ere
            bounds = [int(n) for n in token[1:-1].split(",")] if token != "?" else [1]
            assert bounds == sorted(bounds) and bounds[-1] <= _ERE_DUP_MAX, ere
        depth += {"(": 1, ")": -1}.get(token, 0)
        assert depth >= 0, ere
    assert depth == 0, ere
    return ere


def _type_patterns(meta) -> list[str]:
    """The region's per-type patterns; each matches only lengths its type may have."""
    general = frozenset(meta.general_desc.possible_length)
    found = []
    for name in NUMBER_TYPES:
        desc = getattr(meta, name)
        if desc is None or not desc.national_number_pattern:
            continue
        # is_valid_number also checks the type's and the general possible lengths; the
        # SQL checks the pattern alone, so the pattern must imply them.
        allowed = frozenset(desc.possible_length) or general
        lengths = lengths_of(sre_parse.parse(desc.national_number_pattern))
        assert lengths <= allowed & general, (meta.id, name)
        if desc.national_number_pattern not in found:
            found.append(desc.national_number_pattern)
    return found


def number_steps(calling_code: int) -> list[tuple[str | None, str]]:
    """(leading-digits pattern or None, union of the per-type patterns) per region sharing
    the calling code, in libphonenumber's order (module docstring), as POSIX ERE."""
    steps: list[tuple[str | None, list[str]]] = []
    for region in COUNTRY_CODE_TO_REGION_CODE[calling_code]:
        if region == "001":
            continue
        meta = PhoneMetadata.metadata_for_region(region)
        leading = meta.leading_digits or None
        types = _type_patterns(meta)
        if leading is None and steps and steps[-1][0] is None:
            steps[-1][1].extend(t for t in types if t not in steps[-1][1])
        else:
            steps.append((leading, types))
    return [
        (
            posix_ere(leading) if leading else None,
            # no type at all: nothing is valid; "x" never matches digits
            "|".join(posix_ere(t) for t in types) if types else "x",
        )
        for leading, types in steps
    ]


def steps_accept(steps: list[tuple[str | None, str]], national_number: str) -> bool:
    """What the SQL decides with these steps (phone_valid_number.sql)."""
    for leading, pattern in steps:
        if leading is not None:
            if re.fullmatch(f"({leading})[0-9]*", national_number):
                return re.fullmatch(pattern, national_number) is not None
        elif re.fullmatch(pattern, national_number):
            return True
    return False


def check_steps(all_steps: dict[str, list[tuple[str | None, str]]]) -> int:
    """The steps agree with is_valid_number on every example number of every region and
    type, with each of its digits replaced by each digit in turn; the count of probes."""
    probes = 0
    for region in sorted(SUPPORTED_REGIONS - {"001"}):
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.national_significant_number(example)
            code = str(example.country_code)
            for i in range(len(national)):
                for d in "0123456789":
                    variant = national[:i] + d + national[i + 1 :]
                    number = phonenumbers.parse(f"+{code}{variant}")
                    if phonenumbers.national_significant_number(number) != variant:
                        continue  # a leading zero libphonenumber reads differently
                    expected = phonenumbers.is_valid_number(number)
                    assert steps_accept(all_steps[code], variant) == expected, (code, variant)
                    probes += 1
    return probes


def _jinja_literal(value: str | None) -> str:
    """A pattern (digits and ERE syntax, no quotes) or None as a Jinja literal."""
    return "none" if value is None else f"'{value}'"


def patterns_sql(all_steps: dict[str, list[tuple[str | None, str]]]) -> str:
    """The macro file: {calling code: [[leading digits or none, pattern], ...]}."""

    entries = []
    for code in sorted(all_steps, key=int):
        steps_of = all_steps[code]
        steps = ",\n".join(
            f"      [{_jinja_literal(leading)}, {_jinja_literal(pattern)}]"
            for leading, pattern in steps_of
        )
        entries.append(f"    '{code}': [\n{steps}\n    ]")
    return (
        "{#- Generated by scripts/generate_country_calling_codes.py from libphonenumber's\n"
        f"    metadata (phonenumbers {phonenumbers.__version__}); do not edit. Per calling code, "
        "the steps\n"
        "    of libphonenumber's is_valid_number, one per region in its order: [leading\n"
        "    digits that pick the region (none: its patterns pick it), the union of its\n"
        "    per-type patterns], POSIX ERE. The script's docstring says why. -#}\n"
        "{% macro phone_number_patterns() %}\n"
        "  {{- return({\n" + ",\n".join(entries) + "\n  }) -}}\n"
        "{% endmacro %}\n"
    )


# --- a national number written with its calling code: libphonenumber's test, per region -----


def code_patterns(region: str) -> tuple[str | None, str | None, str] | None:
    """What libphonenumber's _maybe_extract_country_code checks when digits without "+" or
    IDD start with the region's calling code and are not too long for a national number, as
    three POSIX ERE over those digits (module docstring): the general description's pattern
    (None when it matches nothing that starts with the code), the digits whose rest the
    national-prefix rule may treat otherwise than dropping the plain trunk prefix (None when
    none), and the calling code followed by an optional trunk prefix and the general pattern.
    None when neither of the last two matches digits of a national number's length: such
    digits are then always a national number (most +1 regions: 1 and ten digits are too long).
    """
    meta = PhoneMetadata.metadata_for_region(region)
    cc = str(meta.country_code)
    general = meta.general_desc.national_number_pattern
    trunk = meta.national_prefix or ""
    npfp = meta.national_prefix_for_parsing
    full = posix_ere(general) if _Nfa(general).lengths_starting_with(cc) else None
    special = None
    plain = not npfp or (npfp == trunk and not meta.national_prefix_transform_rule)
    if not plain:
        rest_lengths = range(1, max(meta.general_desc.possible_length) - len(cc) + 1)
        try:
            entries = coarsen(special_prefixes(npfp, trunk or None, rest_lengths))
        except Unsupported:
            entries = set("0123456789")
        special = f"{cc}({'|'.join(_entries_ere(entries))})" if entries else None
    optional_trunk = f"({trunk})?" if trunk else ""
    with_code = f"{cc}{optional_trunk}({posix_ere(general)})"
    longest = max(meta.general_desc.possible_length)
    if not any(
        n <= longest for p in (special, with_code) if p for n in lengths_of(sre_parse.parse(p))
    ):
        return None
    return full, special, with_code


def _entries_ere(entries: set[str]) -> list[str]:
    """The `d` and `d:L` entries of a prefix list as ERE alternatives: d and any digits, or
    d and as many more digits as make one of its lengths (a range where they are one)."""
    heads: dict[str, set[int]] = {}
    for entry in entries:
        head, _, length = entry.partition(":")
        heads.setdefault(head, set()).add(int(length) - len(head) if length else -1)
    found = []
    for head, more in sorted(heads.items()):
        if -1 in more:
            found.append(f"{head}[0-9]*")
        elif max(more) - min(more) + 1 == len(more):
            bound = f"{min(more)},{max(more)}" if len(more) > 1 else str(min(more))
            found.append(f"{head}[0-9]{{{bound}}}" if max(more) else head)
        else:
            found.extend(f"{head}[0-9]{{{k}}}" if k else head for k in sorted(more))
    return found


def code_decision(patterns: tuple[str | None, str | None, str] | None, digits: str) -> bool | None:
    """The SQL's reading of such digits (phone_calling_code_written.sql): True, the calling
    code comes off; False, they are a national number; None, the SQL cannot tell."""
    if patterns is None:
        return False
    full, special, with_code = patterns
    if full is not None and re.fullmatch(full, digits):
        return False
    if special is not None and re.fullmatch(special, digits):
        return None
    return re.fullmatch(with_code, digits) is not None


def check_code_patterns(
    all_patterns: dict[str, tuple[str | None, str | None, str]], regions: Iterable[str]
) -> int:
    """The decisions agree with _maybe_extract_country_code wherever the SQL decides: on
    every region's example numbers written after the calling code as they are, with the
    trunk prefix, a digit fewer or more, and each of their first three digits varied."""
    from phonenumbers.phonenumberutil import PhoneNumber, _maybe_extract_country_code

    probes = 0
    for region in sorted(regions):
        patterns = all_patterns.get(region)
        meta = PhoneMetadata.metadata_for_region(region)
        cc, trunk = str(meta.country_code), meta.national_prefix or ""
        longest = max(meta.general_desc.possible_length)
        rests: set[str] = set()
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.national_significant_number(example)
            for rest in (national, trunk + national, national[:-1], national + "0"):
                rests.add(rest)
                for i in range(min(3, len(rest))):
                    rests.update(rest[:i] + d + rest[i + 1 :] for d in "0123456789")
        for rest in sorted(rests):
            digits = cc + rest
            if len(digits) > longest:
                continue  # too long for a national number: the code comes off (length rule)
            decided = code_decision(patterns, digits)
            if decided is None:
                continue
            found, _ = _maybe_extract_country_code(digits, meta, False, PhoneNumber())
            assert (found != 0) == decided, (region, digits, decided)
            probes += 1
    return probes


def code_patterns_sql(all_patterns: dict[str, tuple[str | None, str | None, str]]) -> str:
    """The macro file: {region: [general pattern or none, special or none, with code]},
    only the regions where such digits may carry the code."""

    entries = [
        f"    '{region}': [{', '.join(_jinja_literal(p) for p in patterns)}]"
        for region, patterns in sorted(all_patterns.items())
    ]
    return (
        "{#- Generated by scripts/generate_country_calling_codes.py from libphonenumber's\n"
        f"    metadata (phonenumbers {phonenumbers.__version__}); do not edit. Per region, "
        "what decides\n"
        '    whether digits written without "+" that start with its calling code carry it:\n'
        "    [its general pattern (none: matches nothing starting with the code), the digits\n"
        "    the SQL cannot read (none), the code, an optional trunk prefix and the general\n"
        "    pattern], POSIX ERE over all the digits; a region not listed: never. The\n"
        "    script's code_patterns says why. -#}\n"
        "{% macro phone_calling_code_patterns() %}\n"
        "  {{- return({\n" + ",\n".join(entries) + "\n  }) -}}\n"
        "{% endmacro %}\n"
    )


def main() -> int:
    rows = [region_row(r) for r in sorted(SUPPORTED_REGIONS) if r != "001"]
    codes = {r["calling_code"] for r in rows}
    # The SQL looks a calling code up by the first 1-3 digits; that is one answer only if
    # no code is a prefix of another.
    for a in codes:
        assert not any(b != a and b.startswith(a) for b in codes), a
    mains = [r["calling_code"] for r in rows if r["is_main_country_for_code"] == "true"]
    assert sorted(mains) == sorted(codes), "exactly one main region per calling code"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(macro_sql(rows), encoding="utf-8")
    steps = {
        str(code): number_steps(code)
        for code in sorted(COUNTRY_CODE_TO_REGION_CODE)
        if str(code) in codes
    }
    assert set(steps) == codes, "a number pattern for every calling code of the lookup"
    probes = check_steps(steps)
    PATTERNS_OUT.write_text(patterns_sql(steps), encoding="utf-8")
    with_code = {
        r["country_code"]: patterns
        for r in rows
        if (patterns := code_patterns(r["country_code"])) is not None
    }
    code_probes = check_code_patterns(with_code, (r["country_code"] for r in rows))
    CODE_PATTERNS_OUT.write_text(code_patterns_sql(with_code), encoding="utf-8")
    unsupported = [r["country_code"] for r in rows if r["national_format_supported"] == "false"]
    special = [r["country_code"] for r in rows if r["special_national_prefixes"]]
    idd_listed = sum(1 for r in rows if r["exact_international_prefixes"])
    idd_in_part = []
    for r in rows:
        idd = PhoneMetadata.metadata_for_region(r["country_code"]).international_prefix
        if idd and not exact_idd_strings(idd)[1]:
            idd_in_part.append(r["country_code"])
    print(f"phonenumbers {phonenumbers.__version__}: {len(rows)} regions -> {OUT}")
    print(f"national format unsupported: {unsupported}")
    print(f"with special national prefixes: {special}")
    print(f"international prefixes listed: {idd_listed} regions, {idd_in_part} in part only")
    size = sum(len(p) + len(lead or "") for code in steps.values() for lead, p in code)
    print(f"number patterns: {len(steps)} calling codes, {size} characters -> {PATTERNS_OUT}")
    print(f"number patterns agree with is_valid_number on {probes} probes")
    size = sum(len(p or "") for patterns in with_code.values() for p in patterns)
    print(f"calling-code patterns: {len(with_code)} regions, {size} characters")
    print(f"calling-code patterns agree with libphonenumber on {code_probes} probes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Soak: many runs against an unreliable TikTok while the audiences keep changing.

The promise under test (README "Guarantees": no lost changes, no duplicate audiences): whatever
TikTok or the network does, the audience in TikTok ends up exactly as the SQL defines it, nothing is
lost, and no audience is created twice. A throwaway copy of the project holds three audiences of
tens of thousands of identifiers that read a table of people (`soak_people`); between runs the test
changes who is in which audience and rebuilds the audience models with real dbt (a long-lived dbt
process, `tests/dbt_worker.py`, so a rebuild costs about a second), and with them the compaction of
the acknowledged state (`tiktok_sync_acknowledged_compacted`), as a user's `dbt build` does: the
runs read the state as the compaction and the batches after its watermark, laid over it. Every run
meets random faults from the emulator, drawn from a seed: throttling (40100 and TikTok's per-field
40132), busy codes, 50000-class codes, HTTP 5xx pages, answers slower than the client's read
timeout, answers trickled so slowly that only the client's deadline for the whole answer ends them,
dropped connections, changes applied and then failed or dropped, 20001 partial successes, and
customer-file processing locks. Between runs the user sometimes edits an audience's settings (README
"Changing an audience's settings"): a new name (applied at TikTok for the customer-file audience,
kept for the streaming ones), or a changed `api`, which blocks that audience (exit 2, status
refused, the others sync) until it is restored a few runs later.

After every run and every rebuild the test checks the invariant that makes convergence
possible: TikTok's members with the pending diff applied are exactly the desired members. After
the faults stop, one clean run must leave TikTok = desired = state.

Most runs use the library with a client of short timeouts and backoffs; every tenth goes
through the `tiktok-sync run` CLI. The soak runs on every engine the sync job reads (DuckDB, a
real PostgreSQL server); everything it does to the warehouse is SQL both read alike.
`pytest --soak-runs N` (or TIKTOK_SYNC_SOAK_RUNS) sets the length of the long variant, marked
slow (`make soak`); the one in `make test` runs 12 on DuckDB and 6 on Postgres
(`SHORT_SOAK_RUNS`). A soak of FULL_COVERAGE_RUNS or more (`make soak`) must have met every fault
kind and code of FAULTS, a 20001 answer, and each kind of setting change.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from sync.emulator import Emulator, EmulatorConfig
from tests.dbt_support import DbtWorker, copy_project
from tests.reporting import add_summary
from tests.sync_support import MEMBERSHIP_PATHS, SyncEnv
from tests.warehouses import Warehouses, WarehouseUnderTest

CONTACTS = "soak_contacts"  # streaming, mirror: email + phone
DEVICES = "soak_devices"  # streaming, add_only: idfa / gaid
NEWSLETTER = "soak_newsletter"  # customer file, mirror: email_sha256
MIRROR = (CONTACTS, NEWSLETTER)
AUDIENCES = (CONTACTS, DEVICES, NEWSLETTER)

SOAK_MODELS = {
    CONTACTS: (
        {"audience_name": "Soak contacts", "api": "streaming", "mode": "mirror"},
        "select email, phone, country_code from {{ target.schema }}.soak_people where in_contacts",
    ),
    DEVICES: (
        {"audience_name": "Soak app devices", "api": "streaming", "mode": "add_only"},
        "select case when platform = 'ios' then device_id end as idfa, "
        "case when platform = 'android' then device_id end as gaid "
        "from {{ target.schema }}.soak_people where in_devices",
    ),
    NEWSLETTER: (
        {"audience_name": "Soak newsletter", "api": "customer_file", "mode": "mirror"},
        "select email_sha256 from {{ target.schema }}.soak_people where in_newsletter",
    ),
}

PEOPLE = 30_000
FLIP_SHARE = 0.01  # of all people, per audience and run: ~0.5% of its members in, 0.5% out
READ_TIMEOUT = 0.15  # the client's, in the library runs
SLOW = READ_TIMEOUT + 0.1  # a slow answer arrives after the client gave up, and is applied
# A trickled answer: a byte per TRICKLE seconds never trips the read timeout, but its 100-odd bytes
# outlast the client's budget for the whole answer (connect + read timeout, 1.15 s) that ends it.
TRICKLE = 0.05
PROCESSING_SECONDS = 0.1  # customer-file lock after each change
# How long a run waits a lock out before leaving the change pending: half the runs do not wait.
PROCESSING_WAITS = (0.0, 0.15)
CLI_EVERY = 10
# Runs of the soak in `make test`, per engine: few enough to keep `make test` short, enough that
# each meets most kinds of fault (the soak asserts it) and one CLI run (the fifth). A run costs
# about four times as much on Postgres (dbt's rebuild of the audiences and every read of the
# ledger views run in the server: 20 s against 5 s per run on a loaded 2-core machine), so its
# soak is shorter still. `make soak` runs the long one on both.
SHORT_SOAK_RUNS = {"duckdb": 12, "postgres": 6}
# What a rebuild between runs builds: the audiences, and the compaction of the acknowledged state,
# so that runs read state laid over a compaction that faults and kills of the runs before left
# (with the views over it, which Postgres drops with the table it replaces).
REBUILT = ("path:models/audiences", "tiktok_sync_acknowledged_compacted+")
# From this length on, a soak that did not meet every fault kind, code and setting change fails:
# each is drawn in about one run of ten, so 100 runs miss one only by a freak of the seed.
FULL_COVERAGE_RUNS = 100
# A setting change is drawn before a run with this chance each; a changed api stays 2-4 runs.
RENAME_SHARE = 0.1
API_CHANGE_SHARE = 0.1
API_BLOCKED_RUNS = (2, 4)


def soak_runs(config: pytest.Config) -> int:
    option = config.getoption("--soak-runs")
    return int(option or os.environ.get("TIKTOK_SYNC_SOAK_RUNS") or 300)


# --- the project and its data ------------------------------------------------------------------


def write_model(project_dir: Path, key: str, meta: dict[str, str]) -> None:
    """An audience model of the soak with these meta.tiktok settings, as a user writes it."""
    model = f"{{{{ config(meta={{'tiktok': {meta!r}}}) }}}}\n\n{SOAK_MODELS[key][1]}\n"
    (project_dir / "models" / "audiences" / f"{key}.sql").write_text(model)


def soak_project(destination: Path) -> Path:
    """The project with the soak audiences in place of the demo ones."""
    copy_project(destination, demo=False)
    for key, (meta, _) in SOAK_MODELS.items():
        write_model(destination, key, meta)
    return destination


def create_people(warehouse: WarehouseUnderTest, rng: random.Random) -> None:
    """The soak's source table: who is in which audience is drawn from the soak's seed."""
    shares = {CONTACTS: 0.5, DEVICES: 0.4, NEWSLETTER: 0.4}
    flags = {
        f"in_{key.removeprefix('soak_')}": [rng.random() < share for _ in range(PEOPLE)]
        for key, share in shares.items()
    }
    emails = [f"soak.user{p}.v0@example.com" for p in range(PEOPLE)]
    people = pa.table(
        {
            "person_id": list(range(PEOPLE)),
            "phone": [f"+44 7700 {p:06d}" for p in range(PEOPLE)],
            "platform": ["ios" if p % 3 else "android" for p in range(PEOPLE)],
            "device_id": [str(uuid.UUID(int=(p + 1) * 0x9E3779B97F4A7C15)) for p in range(PEOPLE)],
            **flags,
            "country_code": ["GB"] * PEOPLE,
            "email_version": [0] * PEOPLE,
            "email": emails,
            "email_sha256": [hashlib.sha256(e.encode()).hexdigest() for e in emails],
        }
    )
    warehouse.create_table("soak_people", people)
    warehouse.query("create table soak_ever_desired_devices (id_type varchar, id_hash varchar)")


def _among(ids: list[int]) -> str:
    return f"person_id in ({', '.join('?' for _ in ids)})"


def change_people(warehouse: WarehouseUnderTest, rng: random.Random) -> None:
    """Someone joins or leaves each audience; a few people change their email address."""
    flips = int(PEOPLE * FLIP_SHARE)
    for key in AUDIENCES:
        column = f"in_{key.removeprefix('soak_')}"
        ids = rng.sample(range(PEOPLE), flips)
        warehouse.query(f"update soak_people set {column} = not {column} where {_among(ids)}", ids)
    ids = rng.sample(range(PEOPLE), flips // 5)
    email = (
        "'soak.user' || cast(person_id as varchar) || '.v' || "
        "cast(email_version + 1 as varchar) || '@example.com'"
    )
    warehouse.query(
        "update soak_people set email_version = email_version + 1, "
        f"email = {email}, email_sha256 = {warehouse.sha256_hex(email)} where {_among(ids)}",
        ids,
    )


def remember_desired_devices(env: SyncEnv) -> None:
    """add_only never removes: TikTok may end up holding anything it was ever asked to hold."""
    env.query(
        "insert into soak_ever_desired_devices select id_type, id_hash "
        "from tiktok_audience_desired_members where audience_key = ?",
        [DEVICES],
    )


# --- faults ------------------------------------------------------------------------------------

# (kind, extra rule fields): every kind of failure the emulator can inject, with the codes the
# client must treat as transient.
FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("throttle", {}),
    ("throttle", {"code": 40132}),  # TikTok's per-field throttle
    ("partial", {}),  # 20001: half a mapping batch applied, the answer not saying which
    ("busy", {}),
    ("busy", {"code": 40202}),
    ("server_error", {}),
    ("server_error", {"code": 50002}),
    ("server_error", {"code": 51021}),
    ("http_5xx", {}),
    ("http_5xx", {"code": 503}),
    ("slow", {"delay": SLOW}),
    ("slow_body", {"delay": TRICKLE}),
    ("drop", {}),
    ("applied_then_error", {}),
    ("applied_then_error", {"code": 50000}),
    ("applied_then_drop", {}),
]
FAULT_PATHS = [
    "",
    "segment/mapping/",
    "segment/audience/",
    "dmp/custom_audience/",
    "dmp/custom_audience/update/",
    "dmp/custom_audience/file/upload/",
]


def draw_faults(rng: random.Random, *, cli: bool) -> list[dict[str, Any]]:
    """A random set of fault rules for one run; CLI runs keep their real 30 s timeout, so no
    slow or trickled answers there, and fewer faults since their backoff is real seconds."""
    kinds = [f for f in FAULTS if not (cli and f[0] in ("slow", "slow_body"))]
    rules = []
    for kind, extra in rng.sample(kinds, rng.randint(3, 6)):
        rate = rng.uniform(0.02, 0.05) if cli else rng.uniform(0.05, 0.25)
        rules.append(
            {"kind": kind, "path": rng.choice(FAULT_PATHS), "rate": round(rate, 3), **extra}
        )
    return rules


def fault_label(kind: str, code: object = None) -> str:
    return kind if code is None else f"{kind} {code}"


def faults_met(env: SyncEnv) -> Counter[str]:
    """How often each rule of this run fired, by kind and code (40132 apart from 40100)."""
    return Counter(
        {
            fault_label(rule["kind"], rule.get("code")): rule["fired"]
            for rule in env.emulator.faults()["rules"]
            if rule["fired"]
        }
    )


# --- setting changes ---------------------------------------------------------------------------


@dataclass
class SettingChanges:
    """A user editing the audience models' meta.tiktok between runs; the next rebuild (which
    the soak runs anyway) writes the new settings to tiktok_audiences, as `dbt build` would."""

    project_dir: Path
    meta: dict[str, dict[str, str]] = field(
        default_factory=lambda: {key: dict(meta) for key, (meta, _) in SOAK_MODELS.items()}
    )
    blocked: str | None = None  # the audience whose api is changed, so nothing is sent for it
    restore_before: int = 0
    renames: int = 0
    # Every name the customer-file audience was given, and the one TikTok held after a run.
    newsletter_names: list[str] = field(
        default_factory=lambda: [SOAK_MODELS[NEWSLETTER][0]["audience_name"]]
    )
    newsletter_held: str = SOAK_MODELS[NEWSLETTER][0]["audience_name"]

    def draw(self, rng: random.Random, number: int, registered: set[str]) -> list[str]:
        """Before run `number`: maybe restore a changed api, rename an audience, change an api."""
        done = []
        if self.blocked is not None and number >= self.restore_before:
            done.append(self.restore_api())
        if rng.random() < RENAME_SHARE:
            key = rng.choice([k for k in AUDIENCES if k != self.blocked])
            self.renames += 1
            name = f"{SOAK_MODELS[key][0]['audience_name']} {self.renames}"
            self.edit(key, audience_name=name)
            if key == NEWSLETTER:
                self.newsletter_names.append(name)
            done.append(f"renamed {key}")
        # Only an audience the sync made (its registry row written) has an api to keep. The
        # streaming audiences hold two id types each, which a customer_file audience cannot:
        # that refuses the whole run, a guard of its own (tests/test_sync_guards.py).
        key = NEWSLETTER
        if self.blocked is None and rng.random() < API_CHANGE_SHARE and key in registered:
            self.edit(key, api="streaming")
            self.blocked, self.restore_before = key, number + rng.randint(*API_BLOCKED_RUNS)
            done.append(f"changed the api of {key}")
        return done

    def restore_api(self) -> str:
        assert self.blocked is not None
        key, self.blocked = self.blocked, None
        self.edit(key, api=SOAK_MODELS[key][0]["api"])
        return f"restored the api of {key}"

    def edit(self, key: str, **settings: str) -> None:
        self.meta[key].update(settings)
        write_model(self.project_dir, key, self.meta[key])

    def tiktok_names(self) -> dict[str, str]:
        """The names TikTok holds once every rename went out: the customer-file audience's
        latest, the streaming audiences' first (TikTok's segment API cannot rename)."""
        return {
            key: self.meta[key]["audience_name"]
            if meta["api"] == "customer_file"
            else meta["audience_name"]
            for key, (meta, _) in SOAK_MODELS.items()
        }


# --- checks ------------------------------------------------------------------------------------


def flat(members: dict[str, set[str]] | None) -> set[tuple[str, str]]:
    return {(t, h) for t, hashes in (members or {}).items() for h in hashes}


def assert_converges(env: SyncEnv, when: str) -> None:
    """The invariant: TikTok's members with the pending diff applied are the desired members.

    If it holds, a clean run reaches the desired state; if it breaks, something TikTok holds
    (or lacks) is in no table the next run reads: lost for good. add_only audiences only need
    every desired member.
    """
    tiktok, desired = env.tiktok(), env.desired()
    diff: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for key, id_type, id_hash, action in env.query(
        "select audience_key, id_type, id_hash, action from tiktok_audience_diff"
    ):
        diff.setdefault((str(key), str(action)), set()).add((str(id_type), str(id_hash)))
    mirror = {
        str(key)
        for (key,) in env.query(
            "select audience_key from tiktok_audience_targets where mode = 'mirror'"
        )
    }
    problems = []
    for key in set(tiktok) | set(desired) | {key for key, _ in diff}:
        after_next_run = (flat(tiktok.get(key)) | diff.get((key, "add"), set())) - diff.get(
            (key, "remove"), set()
        )
        wanted = flat(desired.get(key))
        if wanted - after_next_run:
            problems.append(("missing", key, len(wanted - after_next_run)))
        if key in mirror and after_next_run - wanted:
            problems.append(("extra", key, len(after_next_run - wanted)))
    assert not problems, f"{when}: the next clean run would leave {sorted(problems)} members"


def tiktok_names(env: SyncEnv) -> dict[str, str]:
    """The name TikTok holds for each audience the sync made."""
    names = {a["audience_id"]: a["name"] for a in env.emulator.audiences()}
    return {key: names[i] for key, i in env.registry().items() if i is not None}


def check_names(env: SyncEnv, settings: SettingChanges, number: int) -> list[str]:
    """Streaming audiences keep their first name; the customer-file audience takes a new one
    once a run got its rename through (a lock or a fault may leave it to a later run)."""
    held, final = tiktok_names(env), settings.tiktok_names()
    for key in (CONTACTS, DEVICES):
        assert held.get(key, final[key]) == final[key], f"run {number}: {key} renamed at TikTok"
    name = held.get(NEWSLETTER, settings.newsletter_held)
    if name == settings.newsletter_held:
        return []
    assert name in settings.newsletter_names, f"run {number}: {NEWSLETTER} named {name!r}"
    settings.newsletter_held = name
    return ["customer-file rename applied at TikTok"]


def settle(env: SyncEnv, slow_before: int) -> None:
    """Slow answers land after the client gave up: wait until they are applied."""
    if env.emulator.faults()["counts"].get("slow", 0) > slow_before:
        time.sleep(SLOW + 0.05)


def identifiers_sent(requests: list[dict[str, Any]]) -> int:
    """Identifiers in every membership request that reached TikTok, retries included."""
    total = 0
    for entry in requests:
        endpoint = str(entry["path"]).removeprefix("/open_api/v1.3/")
        if endpoint == "segment/mapping/" and isinstance(entry["body"], dict):
            total += len(entry["body"].get("batch_data") or [])
        elif endpoint == "dmp/custom_audience/file/upload/" and isinstance(entry["body"], dict):
            for upload in (entry["body"].get("files") or {}).values():
                total += int(upload["size"]) // 65  # 64 hex characters and a newline each
    return total


# --- the soak ----------------------------------------------------------------------------------


@dataclass
class Totals:
    runs: int = 0
    cli_runs: int = 0
    exit_codes: Counter[int] = field(default_factory=Counter)
    sent: int = 0
    acknowledged: int = 0
    membership_requests: int = 0
    locked: int = 0
    partial_answers: int = 0  # 20001 answers the client read
    met: Counter[str] = field(default_factory=Counter)  # fault rules fired, by kind and code
    settings: Counter[str] = field(default_factory=Counter)  # setting changes and what they did

    def report(self, faults: dict[str, int], audiences: int, engine: str) -> str:
        resent = self.sent - self.acknowledged
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.met.items()))
        changes = ", ".join(f"{k} {n}" for k, n in sorted(self.settings.items())) or "none"
        return (
            f"soak on {engine}: {self.runs} runs ({self.cli_runs} through the CLI) + 1 clean "
            f"run; exit codes {dict(sorted(self.exit_codes.items()))}\n"
            f"soak: faults injected {sum(faults.values())}: {kinds}; and {self.locked} "
            f"customer-file updates refused while TikTok was processing; {self.partial_answers} "
            "answers of 20001\n"
            f"soak: setting changes: {changes}\n"
            f"soak: {self.membership_requests} membership requests carrying {self.sent:,} "
            f"identifiers; {self.acknowledged:,} acknowledged and recorded; {resent:,} resent "
            f"(retries and re-sends after faults)\n"
            f"soak: {audiences} audiences at TikTok, each created once"
        )


@pytest.fixture
def soak_env(engine: Warehouses, tmp_path: Path) -> Iterator[tuple[SyncEnv, DbtWorker]]:
    """The soak project over an empty warehouse of the engine, a long-lived dbt, the emulator."""
    project_dir = soak_project(tmp_path / "project")
    config = EmulatorConfig(qps=0, processing_seconds=PROCESSING_SECONDS)
    with (
        engine.empty(tmp_path / "dbt") as warehouse,
        Emulator(config) as emulator,
        DbtWorker(warehouse.project, project_dir) as dbt,
    ):
        yield SyncEnv(warehouse.project, emulator, warehouse=warehouse), dbt
        assert emulator.internal_errors() == []


def soak(env: SyncEnv, dbt: DbtWorker, runs: int, seed: int) -> str:
    rng = random.Random(seed)
    create_people(env.warehouse, rng)
    dbt.run("run", "--select", "path:models/audiences", "tiktok_sync.sync")
    sizes = {k: len(flat(v)) for k, v in env.desired().items()}
    assert set(sizes) == set(AUDIENCES) and min(sizes.values()) > 10_000, sizes
    rejected = env.query("select count(*) from tiktok_rejected_identifiers")[0][0]
    assert rejected == 0  # every generated identifier is valid: all of them must arrive
    remember_desired_devices(env)
    totals = Totals()
    settings = SettingChanges(dbt.project_dir)
    client = env.client(
        connect_timeout=1,
        read_timeout=READ_TIMEOUT,
        max_attempts=3,
        backoff_base=0.01,
        backoff_cap=0.05,
        mapping_batch_limit=500,
        # The client's floor of 1 s before retrying a throttled call is TikTok's, not ours to
        # wait out here: the soak tests outcomes, not pacing.
        sleep=lambda seconds: time.sleep(min(seconds, 0.02)),
    )
    with client:
        for number in range(1, runs + 1):
            if number > 1:
                change_people(env.warehouse, rng)
                totals.settings.update(settings.draw(rng, number, set(env.registry())))
                dbt.run("run", "-q", "--no-write-json", "--select", *REBUILT)
                remember_desired_devices(env)
            use_cli = number % CLI_EVERY == CLI_EVERY // 2
            processing_wait = rng.choice(PROCESSING_WAITS)
            slow_before = env.emulator.faults()["counts"].get("slow", 0)
            env.emulator.set_faults(draw_faults(rng, cli=use_cli), seed=seed * 100_000 + number)
            # An audience blocked for several runs by a changed api keeps collecting its
            # members' changes; once restored, its removes can exceed the guard's share
            # (--max-removal-share), which refuses the whole run, as it should
            # (tests/test_sync_guards.py). The soak tests convergence: it lets them through,
            # as a user who checked the model's output would.
            if use_cli:
                outcome = env.cli(
                    "run",
                    "--json",
                    "--processing-wait",
                    str(processing_wait),
                    "--allow-mass-removal",
                    "--debug",
                )
                assert "Traceback" not in outcome.output, outcome.output
                report = json.loads(outcome.stdout)
                code = outcome.exit_code
                acknowledged = sum(a["adds_sent"] + a["removes_sent"] for a in report["audiences"])
                pending = {
                    a["audience_key"]: a["adds_pending"] + a["removes_pending"]
                    for a in report["audiences"]
                }
                refused = {
                    a["audience_key"] for a in report["audiences"] if a["status"] == "refused"
                }
                totals.cli_runs += 1
            else:
                result = env.run_engine(
                    client, processing_wait=processing_wait, allow_mass_removal=True
                )
                code = result.exit_code
                acknowledged = sum(a.sent for a in result.audiences)
                pending = {
                    a.plan.audience_key: a.adds_pending + a.removes_pending
                    for a in result.audiences
                }
                refused = {a.plan.audience_key for a in result.audiences if a.status == "refused"}
            totals.met.update(faults_met(env))
            env.emulator.clear_faults()
            # A changed api blocks that audience alone (exit 2); nothing else refuses a run.
            blocked = {settings.blocked} - {None}
            assert refused == blocked, f"run {number}: refused {refused}, api changed {blocked}"
            assert code in ((2,) if blocked else (0, 1)), f"run {number} exited {code}"
            if blocked:
                totals.settings["api change refused"] += 1
            # What a run reports pending is what its diff still holds, read back or not.
            assert {k: n for k, n in pending.items() if n} == env.pending(), f"run {number}"
            settle(env, slow_before)
            requests = env.emulator.requests()
            env.emulator.clear_requests()  # the log keeps bodies: do not let it grow for hours
            totals.runs += 1
            totals.exit_codes[code] += 1
            totals.acknowledged += acknowledged
            totals.sent += identifiers_sent(requests)
            totals.locked += sum(
                1 for r in requests if r["code"] == 40002 and "processing" in str(r["message"])
            )
            totals.partial_answers += sum(1 for r in requests if r["code"] == 20001)
            totals.membership_requests += sum(
                1
                for r in requests
                if str(r["path"]).removeprefix("/open_api/v1.3/") in MEMBERSHIP_PATHS
            )
            assert_converges(env, f"after run {number}")
            names = Counter(a["name"] for a in env.emulator.audiences())
            assert all(n == 1 for n in names.values()), f"run {number}: duplicates {names}"
            totals.settings.update(check_names(env, settings, number))

        if settings.blocked is not None:
            totals.settings[settings.restore_api()] += 1
            dbt.run("run", "-q", "--no-write-json", "--select", *REBUILT)
        final = env.run_engine(client, processing_wait=5)
    assert final.exit_code == 0, [a.error for a in final.audiences]
    totals.acknowledged += sum(a.sent for a in final.audiences)
    totals.sent += identifiers_sent(env.emulator.requests())

    # TikTok = desired (mirror) and TikTok = state, with nothing pending and one audience each.
    tiktok, desired, state = env.tiktok(), env.desired(), env.acknowledged()
    assert env.pending() == {}
    for key in MIRROR:
        assert tiktok[key] == desired[key], key
    ever_desired = {
        (str(t), str(h)) for t, h in env.query("select * from soak_ever_desired_devices")
    }
    assert flat(desired[DEVICES]) <= flat(tiktok[DEVICES]) <= ever_desired
    assert tiktok == state
    # Not a vacuous compaction: the last rebuild compacted the runs before it.
    compacted, watermark = env.query(
        "select count(*), max(compacted_through_seq) from tiktok_sync_acknowledged_compacted"
    )[0]
    assert compacted > 0 and watermark > 0, (compacted, watermark)
    audiences = env.emulator.audiences()
    assert tiktok_names(env) == settings.tiktok_names()
    assert {a["audience_id"] for a in audiences} == set(env.registry().values())
    faults = dict(env.emulator.faults()["counts"])
    # Not a vacuous soak: faults of most kinds, more than one per run on average.
    assert sum(faults.values()) > runs and len(faults) >= min(6, runs), faults
    if runs >= FULL_COVERAGE_RUNS:
        unmet = {fault_label(kind, extra.get("code")) for kind, extra in FAULTS} - set(totals.met)
        assert not unmet and totals.partial_answers, (unmet, totals.partial_answers)
        met = set(totals.settings)
        assert f"renamed {NEWSLETTER}" in met and met & {
            f"renamed {CONTACTS}",
            f"renamed {DEVICES}",
        }
        assert {"customer-file rename applied at TikTok", "api change refused"} <= met, met
    return totals.report(faults, len(audiences), env.engine)


def test_soak_under_faults_ends_with_tiktok_exactly_as_the_sql_defines_it(
    soak_env: tuple[SyncEnv, DbtWorker], request: pytest.FixtureRequest
) -> None:
    env, dbt = soak_env
    add_summary(request.node, soak(env, dbt, runs=SHORT_SOAK_RUNS[env.engine], seed=5))


@pytest.mark.slow
def test_long_soak_under_faults(
    soak_env: tuple[SyncEnv, DbtWorker], request: pytest.FixtureRequest
) -> None:
    env, dbt = soak_env
    runs = soak_runs(request.config)
    seed = int(os.environ.get("TIKTOK_SYNC_SOAK_SEED") or 55)
    add_summary(request.node, soak(env, dbt, runs=runs, seed=seed))

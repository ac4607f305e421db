"""The benchmark harness end to end at 100k identifiers: results, not timings.

`make bench` measures 1M and 10M (bench/README.md); this runs every scenario once at 100k so
the harness keeps working, and holds it to what the figures rest on: the warehouse's members
and diffs equal the pandas baseline's hash for hash, the first sync delivers every member to
the emulator, and a second run with nothing changed sends no membership request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.report import markdown
from bench.run import Options, run


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("bench")
    options = Options(
        sizes=[100_000],
        runs=[1],
        incremental_sizes=[100_000],
        workdir=workdir,
        output=workdir / "latest.json",
        log=lambda *_: None,
    )
    run(options)
    written: dict[str, Any] = json.loads(options.output.read_text())
    return written


@pytest.fixture(scope="module")
def results(everything: dict[str, Any]) -> dict[str, Any]:
    size: dict[str, Any] = everything["sizes"]["100k"]
    return size


def test_warehouse_members_equal_the_pandas_baselines(results: dict[str, Any]) -> None:
    hashes = results["hashes"]
    assert hashes["equal"], hashes
    # every identifier type of the generator made it through, not just some; its raw idfa/gaid
    # columns yield SHA-256 only (32 hex there is an id without hyphens, never an MD5)
    assert {key.split()[1] for key in hashes["per_type"]} == {
        "EMAIL_SHA256",
        "PHONE_SHA256",
        "IDFA_SHA256",
        "GAID_SHA256",
    }
    assert results["initial_diff"]["equal"], results["initial_diff"]


def test_incremental_diff_equals_the_pandas_baselines(results: dict[str, Any]) -> None:
    diff = results["incremental_diff"]
    assert diff["equal"], diff
    run = results["incremental"]["runs"][0]
    assert run["adds"] > 0 and run["removes"] > 0


def test_first_sync_delivers_everything_and_no_change_run_sends_nothing(
    results: dict[str, Any],
) -> None:
    [sync] = results["sync"]["runs"]
    assert sync["status"] == "success"
    assert sync["tiktok_matches_warehouse"]
    assert sync["identifiers_sent"] == results["hashes"]["rows"]
    assert sync["failed_requests"] == 0
    [no_change] = results["no_change"]["runs"]
    assert no_change["membership_requests"] == 0
    assert no_change["identifiers_sent"] == 0


def test_results_render_as_the_readme_table(everything: dict[str, Any]) -> None:
    table = markdown(everything)
    assert "| no-change run (membership requests) | 100k |" in table
    assert "**no**" not in table and "differs" not in table
    assert everything["sizes"]["100k"]["identifiers"] > 90_000

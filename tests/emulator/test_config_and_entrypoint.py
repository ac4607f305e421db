"""EmulatorConfig (defaults, JSON files, errors) and `python -m sync.emulator` as a process."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from sync.emulator import Emulator, EmulatorConfig
from sync.emulator.config import EmulatorConfigError

from .helpers import ADVERTISER, Api

PROJECT = Path(__file__).resolve().parents[2]


def test_default_config_is_the_demo_identity() -> None:
    config = EmulatorConfig.default()
    assert config.advertisers == {ADVERTISER: "Demo advertiser"}
    assert config.tokens == {"emulator-token": [ADVERTISER]}
    assert config.apps == {"emulator-app": "emulator-secret"}
    assert config.auth_codes == {"emulator-auth-code": "emulator-token"}
    assert (config.qps, config.mapping_batch_limit, config.processing_seconds) == (10, 10_000, 0)
    assert (config.max_audiences, config.min_customer_file_size) == (400, 1000)
    assert config.max_file_bytes == 50 * 1024 * 1024


def test_load_reads_fields_and_keeps_defaults_for_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    path.write_text(
        json.dumps(
            {
                "advertisers": {"1234": "Shop"},
                "tokens": {"shop-token": ["1234"]},
                "auth_codes": {},
                "qps": 2.5,
            }
        )
    )
    config = EmulatorConfig.load(path)
    assert config.advertisers == {"1234": "Shop"}
    assert config.qps == 2.5
    assert config.apps == {"emulator-app": "emulator-secret"}
    with Emulator(config) as emulator:
        reply = Api(emulator, token="shop-token").get(
            "dmp/custom_audience/list/", {"advertiser_id": "1234"}
        )
        assert reply["code"] == 0


@pytest.mark.parametrize(
    "text, says",
    [
        pytest.param('{"qps": 1,}', "not valid JSON (line 1", id="bad-json"),
        pytest.param('{"qsp": 1}', "unknown key(s) qsp", id="unknown-key"),
        pytest.param("[1]", "JSON object", id="not-object"),
        pytest.param('{"qps": -1}', "qps", id="negative-qps"),
        pytest.param('{"qps": true}', "qps", id="bool-qps"),
        pytest.param('{"max_audiences": 1.5}', "max_audiences", id="float-cap"),
        pytest.param(
            '{"advertisers": {"abc": "x"}, "tokens": {}, "auth_codes": {}}', "numeric", id="id"
        ),
        pytest.param('{"tokens": {"t": ["999"]}}', "999", id="token-for-unknown-advertiser"),
        pytest.param('{"auth_codes": {"c": "nope"}}', "auth_codes", id="code-for-unknown-token"),
    ],
)
def test_load_errors_name_the_file_and_field(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(EmulatorConfigError) as excinfo:
        EmulatorConfig.load(path)
    assert str(path) in str(excinfo.value)
    assert says in str(excinfo.value)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EmulatorConfigError, match="cannot read"):
        EmulatorConfig.load(tmp_path / "absent.json")


def test_emulator_validates_the_config_it_is_given() -> None:
    with pytest.raises(EmulatorConfigError):
        Emulator(EmulatorConfig(tokens={"t": ["404"]}))


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sync.emulator", *args],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(process: subprocess.Popen[str], timeout: float = 10) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "emulator printed nothing"
    return process.stdout.readline()


def _stop(process: subprocess.Popen[str], sig: int) -> tuple[int, str, str]:
    process.send_signal(sig)
    try:
        out, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_module_entry_point_prints_one_line_serves_and_exits_cleanly(sig: int) -> None:
    process = _start("--port", "0")
    try:
        line = _first_line(process)
        prefix = "TikTok emulator listening on "
        assert line.startswith(prefix), line
        base_url = line[len(prefix) :].strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/open_api/v1.3/")
        reply = requests.get(
            base_url + "dmp/custom_audience/list/",
            params={"advertiser_id": ADVERTISER},
            headers={"Access-Token": "emulator-token"},
            timeout=5,
        ).json()
        assert reply["code"] == 0
    finally:
        code, out, err = _stop(process, sig)
    assert code == 0, err
    assert out == ""  # exactly one line, already read
    assert "Traceback" not in err


def test_module_entry_point_reads_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    path.write_text(json.dumps({"processing_seconds": 5}))
    process = _start("--port", "0", "--config", str(path))
    try:
        base_url = _first_line(process).split()[-1]
        control = base_url.replace("/open_api/v1.3/", "/_emulator/")
        config: dict[str, Any] = requests.get(control + "config/", timeout=5).json()["config"]
        assert config["processing_seconds"] == 5
    finally:
        _stop(process, signal.SIGTERM)


def test_module_entry_point_reports_a_bad_config_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{")
    process = _start("--port", "0", "--config", str(path))
    out, err = process.communicate(timeout=10)
    assert process.returncode != 0
    assert "not valid JSON" in err
    assert "Traceback" not in err
    assert out == ""

"""Customer files built from the column's buffers, and their multipart body.

The file must be byte for byte the simple join (one lower-case hash per line, each line ending
in "\\n", no header) whatever the column's layout, and the body byte for byte what requests
sends with `files=`; a value that is not a hash never gets into a file.
"""

from __future__ import annotations

import hashlib
import random

import duckdb
import polars as pl
import pyarrow as pa
import pytest
import requests

from sync.tiktok import RequestError, TikTokClient
from sync.tiktok import customer_file as cf
from sync.tiktok.customer_file import FormData, file_content

from .scripted import ADVERTISER, ScriptedServer, fail, ok

SHA = [hashlib.sha256(f"email-{i}".encode()).hexdigest() for i in range(5000)]
MD5 = [hashlib.md5(f"maid-{i}".encode()).hexdigest() for i in range(3000)]


def joined(values: list[str]) -> bytes:
    """The file the way it was always built: the series joined, then encoded."""
    return "".join(f"{v}\n" for v in values).encode()


def read_back(values: list[str], batch_rows: int) -> pl.Series:
    """A column as the sync reads it: DuckDB's Arrow record batches turned into Polars."""
    con = duckdb.connect()
    con.register("hashes", pa.table({"id_hash": pa.array(values, pa.string())}))
    reader = con.sql("select id_hash from hashes").to_arrow_reader(batch_rows)
    chunks = [pl.from_arrow(batch).get_column("id_hash") for batch in reader]  # type: ignore[union-attr]
    con.close()
    return pl.concat(chunks, rechunk=False)


def built(series: pl.Series, length: int) -> bytes:
    return bytes(file_content(series, length))


@pytest.mark.parametrize("values, length", [(SHA, 64), (MD5, 32)], ids=["sha256", "md5"])
def test_the_file_is_the_joined_column_on_every_layout(values: list[str], length: int) -> None:
    whole = pl.Series("id_hash", values)
    read = read_back(values, 1024)
    assert read.n_chunks() > 1
    layouts = {
        "built from a list": whole,
        "read from DuckDB, several chunks": read,
        "rechunked": pl.concat([read], rechunk=True),
        "sliced": whole.slice(7, 1500),
        "sliced across chunks": read.slice(1000, 2500),
        "chunks of slices": pl.concat([whole.slice(3, 10), read.slice(40, 900)], rechunk=False),
        "a cut like the warehouse's": pl.concat([read.slice(1234), whole.slice(0, 99)]).slice(5),
        "one value": whole.slice(42, 1),
    }
    for name, series in layouts.items():
        expected = joined(series.to_list())
        assert cf._runs(series, length) is not None, name  # the buffers' path, not the fallback
        assert built(series, length) == expected, name


def test_values_out_of_order_in_their_buffers_give_the_same_file() -> None:
    series = pl.Series("id_hash", SHA)
    order = list(range(len(SHA)))
    random.Random(6).shuffle(order)
    for shuffled in (series.gather(order), series.reverse(), series.sort()):
        assert built(shuffled, 64) == joined(shuffled.to_list())


def test_a_layout_of_many_pieces_falls_back_to_the_simple_join(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shuffled = pl.Series("id_hash", SHA).gather(list(range(0, 5000, 2)) + list(range(1, 5000, 2)))
    monkeypatch.setattr(cf, "MAX_RUNS", 3)
    assert cf._runs(shuffled, 64) is None
    assert built(shuffled, 64) == joined(shuffled.to_list())


def test_an_empty_column_gives_an_empty_file() -> None:
    assert built(pl.Series("id_hash", [], pl.String), 64) == b""


@pytest.mark.parametrize("file_name", ["audience.csv", 'we"ird\nname é.txt'])
def test_the_body_is_what_requests_sends_for_files(file_name: str) -> None:
    content = joined(SHA[:50])
    fields = {"advertiser_id": ADVERTISER, "calculate_type": "EMAIL_SHA256", "file_signature": "ab"}
    sent = requests.Request(
        "POST", "http://x/", data=fields, files={"file": (file_name, content, "text/csv")}
    ).prepare()
    boundary = str(sent.headers["Content-Type"]).split("boundary=")[1]
    body = FormData(fields, "file", file_name, memoryview(content), "text/csv", boundary)
    assert body.content_type == sent.headers["Content-Type"]
    assert b"".join(body) == sent.body
    assert len(body) == len(b"".join(body))
    assert b"".join(body) == b"".join(body)  # iterated again for a retry: the same bytes


def test_upload_hashes_sends_the_joined_file_with_its_md5(
    server: ScriptedServer, client: TikTokClient
) -> None:
    server.script(fail(50000, "busy"), ok({"file_path": "fp-1"}))
    series = read_back(SHA, 700).slice(10, 4000)
    expected = joined(series.to_list())
    assert client.upload_hashes(ADVERTISER, series, "EMAIL_SHA256", "a.csv") == "fp-1"
    first, retried = server.requests
    assert first.body == retried.body
    assert retried.form() == {
        "advertiser_id": ADVERTISER,
        "calculate_type": "EMAIL_SHA256",
        "file_signature": hashlib.md5(expected).hexdigest(),
        "file": ("a.csv", expected, "text/csv"),
    }
    assert retried.headers["Content-Length"] == str(len(retried.body))
    assert retried.headers["Transfer-Encoding"] is None


@pytest.mark.parametrize(
    "hostile",
    [SHA[0].upper(), SHA[0] + "\n" + SHA[1], SHA[0][:-1], MD5[0], f"{SHA[0][:-2]}\r\n", None],
    ids=["upper", "two-lines", "short", "md5-for-sha", "crlf", "null"],
)
def test_a_value_that_is_not_a_hash_never_reaches_a_file(
    server: ScriptedServer, client: TikTokClient, hostile: str | None
) -> None:
    series = pl.Series("id_hash", [*SHA[:100], hostile, *SHA[100:200]], pl.String)
    with pytest.raises(RequestError, match=r"id #100 is not 64 lowercase hex"):
        client.upload_hashes(ADVERTISER, series, "EMAIL_SHA256")
    assert server.requests == []

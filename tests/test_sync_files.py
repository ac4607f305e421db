"""How many identifiers go in one customer file (they bound the sync's memory at 10M)."""

from __future__ import annotations

from sync.apply.customer_file import MEMBER_FILE_FRACTION, ids_per_file, ids_per_member_file
from sync.tiktok.checks import MAX_FILE_BYTES, MAX_FILE_PATHS


def test_an_update_file_holds_up_to_50_mb() -> None:
    assert ids_per_file("EMAIL_SHA256") == MAX_FILE_BYTES // 65
    assert ids_per_file("IDFA_MD5") == MAX_FILE_BYTES // 33


def test_create_and_replace_files_are_smaller_unless_500_would_not_hold_the_audience() -> None:
    largest = ids_per_file("EMAIL_SHA256")
    smaller = largest // MEMBER_FILE_FRACTION
    assert MEMBER_FILE_FRACTION > 1
    assert ids_per_member_file("EMAIL_SHA256", 1_000) == smaller
    assert ids_per_member_file("EMAIL_SHA256", 10_000_000) == smaller
    members = smaller * MAX_FILE_PATHS + 1
    assert ids_per_member_file("EMAIL_SHA256", members) == smaller + 1
    assert ids_per_member_file("EMAIL_SHA256", largest * MAX_FILE_PATHS * 2) == largest
    for n in (1, smaller * MAX_FILE_PATHS, members, largest * MAX_FILE_PATHS):
        per_file = ids_per_member_file("EMAIL_SHA256", n)
        assert -(-n // per_file) <= MAX_FILE_PATHS

"""Review of issue 15's incremental verify: an archive under key sets (a trust file)."""

from __future__ import annotations

from pathlib import Path

from conftest import text_request
from orderarchive.log.keyset import read_trust
from orderarchive.verified import audit_incrementally, remember_verified
from test_keyset_index import _resign_head, keyset_archive
from test_keyset_log import NOW, ORIGIN, SUCCESSOR, TRUST, WRITER


def test_incremental_verify_under_key_sets_checks_the_key_set_index(tmp_path: Path) -> None:
    """The latest checkpoint names the key sets before the remembered state too: they are
    not re-read, and an incremental verify of a sound archive must not fail on them."""
    a, _ = keyset_archive(tmp_path / "a", documents=3)
    history = a.key_history(read_trust(TRUST, ORIGIN))
    first = audit_incrementally(a, history, workers=1)
    assert first.report.ok, first.report.problems
    assert remember_verified(first) is not None
    a.add([text_request(50)], SUCCESSOR, now=NOW)
    history = a.key_history(read_trust(TRUST, ORIGIN))
    run = audit_incrementally(a, history, workers=1)
    assert run.incremental
    assert run.report.ok, run.report.problems


def test_a_checkpoint_hiding_an_old_key_set_is_not_verified_incrementally(
        tmp_path: Path) -> None:
    """The holder of a rotated-out log key re-signs the head naming only key set 1: the key
    history read by lookup changes, so the remembered state is not used, and the full read
    finds the hidden key set."""
    a, at = keyset_archive(tmp_path / "a", documents=3)
    first = audit_incrementally(a, a.key_history(read_trust(TRUST, ORIGIN)), workers=1)
    assert first.report.ok and remember_verified(first) is not None
    _resign_head(tmp_path / "a", (f"orderarchive.keysets {at[0]}",), WRITER)
    run = audit_incrementally(a, a.key_history(read_trust(TRUST, ORIGIN)), workers=1)
    assert not run.incremental
    assert any(p.code == "keyset-index" for p in run.report.problems), run.report.problems

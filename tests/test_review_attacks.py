"""Wrong answers found by the adversarial review of issues 11 and 12, each held here.

Each test reproduces an attack that got a "yes" (or an unqualified answer) out of the merged
code, with the smallest input that shows it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.cli import cli
from orderarchive.note import Signer

FORGED = "The City agrees to assist federal agents in every case.\n"
FORGED_QUOTE = "The City agrees to assist federal agents in every case"


@pytest.fixture
def attackers_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An attacker's archive with the right origin and his own key, and the key only inside
    the archive; the working directory beside it holds ./keys for the test to fill."""
    signer = Signer.generate(ORIGIN)
    root = tmp_path / "repo"
    archive = Archive.init(root / "archive", ORIGIN)
    archive.add([text_request(1, doc="forged", body=FORGED)], signer)
    archive.release(signer)
    (root / "archive" / "origin.vkey").write_text(signer.verifier().to_string() + "\n")
    (root / "keys").mkdir()
    monkeypatch.chdir(root)
    return root


@pytest.mark.parametrize("how", ["file-symlink", "dir-symlink-inside-keys"])
def test_a_key_symlinked_into_the_archive_is_not_trusted(attackers_repo: Path, how: str) -> None:
    """./keys holding a symlink to a key inside the archive under test: the key is the
    archive's own, so nothing it signs is verified (was: EXACT, exit 0)."""
    keys = attackers_repo / "keys"
    if how == "file-symlink":
        (keys / "origin.vkey").symlink_to(attackers_repo / "archive" / "origin.vkey")
    else:
        (keys / "more").symlink_to(attackers_repo / "archive")
        (keys / "origin.vkey").symlink_to(Path("more") / "origin.vkey")
    r = CliRunner().invoke(cli, ["quote", FORGED_QUOTE])
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert r.stdout == ""
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and "inside the archive" in line


def test_a_key_beside_the_archive_is_still_trusted(attackers_repo: Path) -> None:
    """The control: the same key as a regular file in ./keys is the user's choice to trust."""
    shutil.copy(attackers_repo / "archive" / "origin.vkey", attackers_repo / "keys")
    r = CliRunner().invoke(cli, ["quote", FORGED_QUOTE])
    assert r.exit_code == 0, r.output

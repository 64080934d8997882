"""Review 17: a hostile site against `prove --archive URL --trusted-key FILE.trust`.

The site serves a release of its own making over the published tree: a key-set line that
leaves a key set out or names an entry that is no key set, a checkpoint signed by a key the
key sets in force do not allow (a rotated-out log key, a stranger named as the origin),
without the release threshold, or for another tree. Each must be refused before a proof is
returned (and the CLI must write no file): the walk from the pin
(tlogproof.chain_history, through remote.RemoteLog._key_history) is what stops each.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import ORIGIN
from orderarchive.errors import VerificationError
from orderarchive.log.checkpoint import Checkpoint
from orderarchive.log.layout import KEYSETS_EXT
from orderarchive.log.note import SignedNote, sign_note
from test_keyset_log import ATTORNEY, CLERK, DEPUTY, PRESS, SUCCESSOR, WRITER, key
from test_keyset_proofs import PINNED, TRUST, published  # noqa: F401 (the fixture)

STRANGER = key("stranger", ORIGIN)


def _forge(site: Path, positions: list[int] | None, signers: list[object],
           root: bytes | None = None) -> None:
    cp_path = site / "checkpoint"
    cp = Checkpoint.parse(SignedNote.parse(cp_path.read_bytes()).text)
    others = tuple(e for e in cp.extensions if not e.startswith(KEYSETS_EXT))
    line = () if positions is None else (KEYSETS_EXT + " ".join(map(str, positions)),)
    forged = Checkpoint(cp.origin, cp.size, root or cp.root_hash, others + line)
    cp_path.write_bytes(sign_note(forged.to_text(), signers))  # type: ignore[arg-type]


ATTACKS = {
    # v2 (which rotated the writer out) left out of the line; a rotated-out log key and one
    # release key sign: short of the release threshold of 2.
    "v2-left-out": (lambda at: [at["v1"]], [WRITER, PRESS], None, "release 5"),
    # the line names a document entry as a key set, signed by every real holder.
    "entry-as-keyset": (lambda at: [at["v1"], at["after"]], [SUCCESSOR, CLERK, ATTORNEY],
                        None, "not a key set"),
    # the true line, the release threshold, but the log signature of the rotated-out writer.
    "rotated-out-log-key": (lambda at: [at["v1"], at["v2"]], [WRITER, CLERK, ATTORNEY], None,
                            None),
    # a stranger named as the origin signs as the log.
    "stranger": (lambda at: [at["v1"], at["v2"]], [STRANGER, CLERK, ATTORNEY], None, None),
    # the true line, the log key only: no release threshold.
    "no-threshold": (lambda at: [at["v1"], at["v2"]], [SUCCESSOR], None, "release"),
    # a release of another tree (a root the tiles do not lead to), properly signed.
    "other-tree": (lambda at: [at["v1"], at["v2"]], [SUCCESSOR, CLERK, ATTORNEY],
                   b"\x07" * 32, None),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_release_gives_no_proof(
    published: tuple[object, dict[str, int], bytes, Path],  # noqa: F811
    tmp_path: Path, attack: str,
) -> None:
    from _httpsite import serve
    from orderarchive.remote import prove_remote

    _a, at, _proof, published_site = published
    positions, signers, root, words = ATTACKS[attack]
    site = tmp_path / "site"
    shutil.copytree(published_site, site)
    _forge(site, positions(at), signers, root)
    with serve(site) as served, pytest.raises(VerificationError, match=words):
        prove_remote(served.url, "eo-3", PINNED, state=tmp_path / "state")


def test_cli_hostile_release_writes_no_proof(
    published: tuple[object, dict[str, int], bytes, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    from _httpsite import serve
    from test_cli import one_line_error, run

    _a, at, _proof, published_site = published
    site = tmp_path / "site"
    shutil.copytree(published_site, site)
    _forge(site, [at["v1"]], [WRITER, PRESS, DEPUTY])  # v2 left out, 2 release keys
    (tmp_path / "orders.trust").write_bytes(TRUST)
    env = {"ORDERARCHIVE_STATE_DIR": str(tmp_path / "state")}
    with serve(site) as served:
        r = run("--archive", served.url, "prove", "eo-3", "-o", "x.tlog-proof",
                "--trusted-key", "orders.trust", cwd=tmp_path, env=env)
    # The release threshold of version 1 signed a line without v2: the chain is accepted as
    # far as it goes, but eo-3's signer is known only from v2, so the entry is refused.
    assert "not a trusted key" in one_line_error(r, 1)
    assert not os.path.exists(tmp_path / "x.tlog-proof")

"""The derived index never decides a verdict (issue 11 items 1, 2, 5; issue 14 item 2).

A mirror's ``index.sqlite`` is ignored; the index in the user's cache is built only from
entries verified against trusted keys and bound to the signed checkpoint; what a command
reports (status, relations, titles, locators) is re-read from verified entries; every verdict
command refuses to run without trusted keys; nothing is written through a symlink; a read-only
archive is readable by a user who cannot write it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, text_request
from orderarchive.archive import ENTRIES, Archive
from orderarchive.cli import cli
from orderarchive.log.note import Signer
from orderarchive.log.store import FileStore
from orderarchive.proofs import check_copy

ORDER = "Executive order number 1.\n\nSection 1. The City shall not assist federal agents.\n"
QUOTE = "The City shall not assist federal agents"


class Mirror:
    """An order, its amendment, an article on it and another order, released; keys apart."""

    def __init__(self, root: Path, signer: Signer, *, build: bool = True) -> None:
        self.root = root
        self.signer = signer
        self.archive_path = root / "archive"
        self.keys = root / "keys"
        self.vkey = self.keys / "origin.vkey"
        self.official = root / "eo-1.txt"
        self.modified = root / "eo-4-modified.txt"
        self.brief = root / "brief.txt"
        if not build:
            self.archive = Archive.open(self.archive_path)
            return
        self.archive = Archive.init(self.archive_path, ORIGIN)
        self.archive.add([
            text_request(1, doc="eo-1", body=ORDER),
            text_request(2, doc="eo-2", relations=(("amends", "eo-1"),)),
            text_request(3, doc="art-1", relations=(("reports-on", "eo-1"),)),
            text_request(4, doc="eo-4"),
        ], signer)
        self.archive.release(signer)
        self.keys.mkdir()
        self.vkey.write_text(signer.verifier().to_string() + "\n")
        self.official.write_text(ORDER)
        self.modified.write_bytes(text_request(4).data.replace(b"item 4", b"item 9"))
        self.brief.write_text(f'The order says "{QUOTE}."\n')

    def run(self, *args: str) -> Result:
        base = ["--archive", str(self.archive_path), "--keys", str(self.keys)]
        return CliRunner().invoke(cli, [*base, *args])

    def cache_indexes(self) -> list[Path]:
        return sorted(Path(os.environ["ORDERARCHIVE_CACHE"]).glob("*.sqlite"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mirror built per module (signing is the slow part); each test gets a copy."""
    root = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as mp:  # its index goes to a throwaway cache
        mp.setenv("ORDERARCHIVE_CACHE", str(root / "cache"))
        Mirror(root / "mirror", Signer(name=ORIGIN, seed=bytes(range(32))))
    return root / "mirror"


@pytest.fixture
def mirror(
    template: Path, tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> Mirror:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(template, tmp_path / "m")
    return Mirror(tmp_path / "m", signer, build=False)


def _evidence(m: Mirror) -> Result:
    out = m.root / "quote.evidence"
    out.unlink(missing_ok=True)
    made = m.run("cite", "eo-1", "--quote", QUOTE, "-o", str(out))
    if made.exit_code != 0:
        return made
    return m.run("verify-evidence", str(out), "--trusted-key", str(m.vkey))


#: Every command that reads the index, and how to run it.
COMMANDS: dict[str, Callable[[Mirror], Result]] = {
    "show-amended": lambda m: m.run("--json", "show", "eo-1"),
    "show-in-force": lambda m: m.run("--json", "show", "eo-4"),
    "list": lambda m: m.run("--json", "list"),
    "quote": lambda m: m.run("--json", "quote", QUOTE),
    "cite": lambda m: m.run("--json", "cite", "eo-1", "--quote", QUOTE),
    "cite-check": lambda m: m.run("--json", "cite-check", str(m.brief)),
    "check-official": lambda m: m.run("--json", "check", str(m.official)),
    "check-modified": lambda m: m.run("--json", "check", str(m.modified)),
    "search": lambda m: m.run("--json", "search", "federal", "agents"),
    "verify-evidence": _evidence,
}


def _relations_deleted(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM relations")


def _relations_inserted(conn: sqlite3.Connection) -> None:
    for seq, doc in ((2, "art-1"), (2, "eo-4")):  # the article "rescinds" both orders
        conn.execute("INSERT OR REPLACE INTO relations VALUES (?, 7, 'rescinds', ?)", (seq, doc))
        conn.execute("INSERT OR REPLACE INTO relations VALUES (?, 8, 'rescinds', 'eo-1')", (seq,))


def _titles_edited(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE documents SET title = 'OFFICIAL: ' || title, issued = '1999-01-01'")


def _hashes_edited(conn: sqlite3.Connection) -> None:
    forged = hashlib.sha256(b"a forged order\n").digest()
    conn.execute("UPDATE documents SET sha256 = ?, text_sha256 = ?", (forged, forged))


def _locators_edited(conn: sqlite3.Connection) -> None:
    rows = conn.execute("SELECT rowid, body, page FROM passages").fetchall()
    conn.execute("DELETE FROM passages")
    for rowid, body, page in rows:  # every paragraph moved one place and reworded
        conn.execute("INSERT INTO passages(rowid, body, page) VALUES (?, ?, ?)",
                     (rowid + 1, body.replace("shall not", "shall"), page))


def _ids_swapped(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE documents SET doc = doc || '-x'")
    conn.execute("UPDATE documents SET doc = 'eo-1' WHERE seq = 3")


POISONS: dict[str, Callable[[sqlite3.Connection], None]] = {
    "relations-deleted": _relations_deleted,
    "relations-inserted": _relations_inserted,
    "titles-edited": _titles_edited,
    "hashes-edited": _hashes_edited,
    "locators-edited": _locators_edited,
    "ids-swapped": _ids_swapped,
}


def _poison(path: Path, how: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        POISONS[how](conn)
    conn.close()


def _answer(r: Result) -> tuple[int, str]:
    return r.exit_code, r.stdout


@pytest.mark.parametrize("how", sorted(POISONS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_poisoned_index_in_a_mirror_changes_nothing(
    mirror: Mirror, command: str, how: str
) -> None:
    """The issue's attack: the mirror carries an edited ``index.sqlite`` (cp -r, rsync -a)."""
    baseline = _answer(COMMANDS[command](mirror))
    assert baseline[0] in (0, 1), baseline
    planted = mirror.archive_path / "index.sqlite"
    if not planted.exists():  # the archive holds no index: plant a real one, then poison it
        (built,) = mirror.cache_indexes()
        shutil.copy(built, planted)
    _poison(planted, how)
    for cached in mirror.cache_indexes():  # a fresh user: nothing cached yet
        cached.unlink()
    assert _answer(COMMANDS[command](mirror)) == baseline


# Deleting rows in the user's own cache hides them (a search that misses); it needs write
# access to the user's files, as replacing the user's trusted keys would. Every other edit
# is caught by re-reading the verified entries, or changes nothing.
CACHE_POISONS = sorted(set(POISONS) - {"relations-deleted"})


@pytest.mark.parametrize("how", CACHE_POISONS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_poisoned_cache_index_never_changes_a_verdict(
    mirror: Mirror, command: str, how: str
) -> None:
    baseline = _answer(COMMANDS[command](mirror))
    (cached,) = mirror.cache_indexes()
    _poison(cached, how)
    r = COMMANDS[command](mirror)
    if _answer(r) != baseline:  # refused or missed, with a failing exit: never another yes
        assert r.exit_code in (1, 2, 3), (r.exit_code, r.output)
        assert "Traceback" not in r.output
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception


def test_the_index_lives_in_the_cache_with_private_modes(mirror: Mirror) -> None:
    assert mirror.run("show", "eo-1").exit_code == 0
    assert not (mirror.archive_path / "index.sqlite").exists()
    (cached,) = mirror.cache_indexes()
    assert cached.stat().st_mode & 0o777 == 0o600
    assert cached.parent.stat().st_mode & 0o777 == 0o700


def test_a_foreign_writable_cache_index_is_rebuilt(mirror: Mirror) -> None:
    baseline = _answer(mirror.run("--json", "show", "eo-1"))
    (cached,) = mirror.cache_indexes()
    _poison(cached, "relations-deleted")
    cached.chmod(0o666)  # another user could have written it
    assert _answer(mirror.run("--json", "show", "eo-1")) == baseline
    assert cached.stat().st_mode & 0o777 == 0o600


def test_rollback_and_fork_rebuild_the_index(mirror: Mirror, signer: Signer) -> None:
    older = mirror.root / "older"
    shutil.copytree(mirror.archive_path, older)
    mirror.archive.add([text_request(5, doc="eo-5", relations=(("rescinds", "eo-4"),))], signer)
    mirror.archive.release(signer)
    assert json.loads(mirror.run("--json", "show", "eo-4").stdout)["status"] == "rescinded"
    # Rolled back: the same path now serves the older copy.
    shutil.rmtree(mirror.archive_path)
    shutil.copytree(older, mirror.archive_path)
    r = mirror.run("--json", "show", "eo-4")
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "in-force"
    assert mirror.run("show", "eo-5").exit_code == 2
    # Forked: same origin and key, other entries at the same size.
    shutil.rmtree(mirror.archive_path)
    fork = Archive.init(mirror.archive_path, ORIGIN)
    fork.add([text_request(i, doc=f"fork-{i}") for i in range(5)], signer)
    fork.release(signer)
    r = mirror.run("--json", "list")
    assert r.exit_code == 0
    assert [d["doc"] for d in json.loads(r.stdout)["documents"]] == [f"fork-{i}" for i in range(5)]


def test_a_log_that_does_not_match_its_checkpoint_is_refused(mirror: Mirror) -> None:
    for cached in mirror.cache_indexes():
        cached.unlink()
    entries = mirror.archive_path / "log" / "entries"
    entries.write_bytes(entries.read_bytes().replace(b'"Order 4"', b'"Order X"'))
    r = mirror.run("show", "eo-4")
    assert r.exit_code == 1 and r.stderr.startswith("error: ")
    assert len(r.stderr.strip().splitlines()) == 1


def test_an_attackers_key_is_never_indexed(mirror: Mirror, tmp_path: Path) -> None:
    """Right origin, the attacker's own key: nothing is indexed or answered."""
    attacker = Signer.generate(ORIGIN)
    forged = tmp_path / "forged"
    fake = Archive.init(forged, ORIGIN)
    fake.add([text_request(1, doc="eo-1", body=ORDER.replace("shall not", "shall"))], attacker)
    fake.release(attacker)
    r = CliRunner().invoke(cli, ["--archive", str(forged), "--keys", str(mirror.keys),
                                 "quote", QUOTE.replace("shall not", "shall")])
    assert r.exit_code == 1 and "EXACT" not in r.stdout
    assert not list(Path(os.environ["ORDERARCHIVE_CACHE"]).glob("*.sqlite-wal"))


# -- no trusted keys: refuse, never answer unverified (issue 11 item 2) ------------------------

VERDICT_COMMANDS: dict[str, Callable[[Mirror], list[str]]] = {
    "verify": lambda m: ["verify"],
    "check": lambda m: ["check", str(m.official)],
    "quote": lambda m: ["quote", QUOTE],
    "cite": lambda m: ["cite", "eo-1", "--quote", QUOTE],
    "cite-check": lambda m: ["cite-check", str(m.brief)],
    "show": lambda m: ["show", "eo-1"],
    "list": lambda m: ["list"],
    "search": lambda m: ["search", "federal"],
    "prove": lambda m: ["prove", "eo-1", "-o", str(m.root / "p.tlog-proof")],
    "consistency": lambda m: ["consistency", "1"],
    "verify-proof": lambda m: ["verify-proof", str(m.official), str(m.root / "x.tlog-proof")],
    "verify-evidence": lambda m: ["verify-evidence", str(m.root / "x.evidence")],
}


@pytest.fixture
def attackers_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Mirror:
    """The issue's case: right origin, the attacker's own key, shipped inside the archive."""
    m = Mirror(tmp_path / "attacker", Signer.generate(ORIGIN))
    inside = m.archive_path / "keys"
    inside.mkdir()
    shutil.copy(m.vkey, inside / "origin.vkey")
    (m.root / "x.tlog-proof").write_bytes(b"")
    (m.root / "x.evidence").write_bytes(b"")
    workdir = tmp_path / "elsewhere"  # no ./keys here
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return m


@pytest.mark.parametrize("command", sorted(VERDICT_COMMANDS))
@pytest.mark.parametrize("keys", ["none", "keys-dir-in-archive", "key-file-in-archive"])
def test_no_trusted_keys_is_refused(attackers_mirror: Mirror, command: str, keys: str) -> None:
    m = attackers_mirror
    base = ["--archive", str(m.archive_path)]
    args = VERDICT_COMMANDS[command](m)
    if keys == "keys-dir-in-archive":
        base += ["--keys", str(m.archive_path / "keys")]
    elif keys == "key-file-in-archive":
        args += ["--trusted-key", str(m.archive_path / "keys" / "origin.vkey")]
    r = CliRunner().invoke(cli, [*base, *args])
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert r.stdout == ""
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and "--trusted-key" in line
    assert "Traceback" not in r.output


def test_keys_from_the_environment(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERARCHIVE_KEYS", str(mirror.keys))
    r = CliRunner().invoke(cli, ["--archive", str(mirror.archive_path), "show", "eo-1"])
    assert r.exit_code == 0 and "status:     amended" in r.stdout


# -- symlinks: no write leaves the archive or the cache (issue 11 item 5) ----------------------


def test_dangling_lock_symlinks_create_nothing(mirror: Mirror) -> None:
    outside = mirror.root / "outside"
    outside.mkdir()
    for name in ("lock", "index.lock"):
        (mirror.archive_path / name).unlink(missing_ok=True)
        (mirror.archive_path / name).symlink_to(outside / f"created-by-{name}")
    assert mirror.run("check", str(mirror.official)).exit_code == 0
    extra = mirror.root / "extra.txt"
    extra.write_text("Executive order number 9.\n\nSection 1. Another order.\n")
    secret = mirror.root / "clerk.key"
    from orderarchive.log.keys import seal

    secret.write_bytes(seal(mirror.signer, None).to_bytes())
    secret.chmod(0o600)
    r = mirror.run("add", "--key", str(secret), str(extra))
    assert r.exit_code != 0 and "symlink" in r.stderr
    assert list(outside.iterdir()) == []


def test_symlinked_index_files_are_not_followed(mirror: Mirror) -> None:
    victim = mirror.root / "victim.sqlite"
    conn = sqlite3.connect(victim)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    before = victim.read_bytes()
    (mirror.archive_path / "index.sqlite").unlink(missing_ok=True)
    (mirror.archive_path / "index.sqlite").symlink_to(victim)
    assert mirror.run("list").exit_code == 0
    (cached,) = mirror.cache_indexes()
    cached.unlink()
    cached.symlink_to(victim)
    Path(f"{cached}-wal").symlink_to(mirror.root / "dangling-wal")
    assert mirror.run("check", str(mirror.official)).exit_code == 0
    assert victim.read_bytes() == before  # not switched to WAL, not written
    assert not (mirror.root / "dangling-wal").exists()
    assert not cached.is_symlink() and cached.stat().st_mode & 0o777 == 0o600


# -- a read-only archive, read by a user who cannot write it (issue 14 item 2) -----------------


@pytest.fixture
def readonly_world() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to run a command as another user (nobody)")
    root = Path(tempfile.mkdtemp(prefix="orderarchive-ro-"))
    try:
        root.chmod(0o755)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_read_only_archive_is_readable_by_another_user(
    readonly_world: Path, signer: Signer
) -> None:
    m = Mirror(readonly_world, signer)
    for path in [readonly_world, *readonly_world.rglob("*")]:  # root's files, others may read
        path.chmod(0o555 if path.is_dir() else 0o444)
    home = Path(tempfile.mkdtemp(prefix="orderarchive-nobody-"))
    try:
        os.chown(home, 65534, 65534)
        env = {**os.environ, "HOME": str(home), "ORDERARCHIVE_CACHE": str(home / "cache"),
               "ORDERARCHIVE_STATE_DIR": str(home / "state"), "XDG_STATE_HOME": str(home)}
        # Python's own library may sit where nobody cannot read (here, /root/.pyenv): import
        # every module first, then drop to nobody before anything touches the archive.
        code = ("import importlib, os, pkgutil, sys, sqlite3, difflib, orderarchive\n"
                "for mod in pkgutil.walk_packages(orderarchive.__path__, 'orderarchive.'):\n"
                "    if not mod.name.endswith('__main__'): importlib.import_module(mod.name)\n"
                "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
                "from orderarchive.cli import main; sys.argv[0] = 'orderarchive'; main()")
        base = [sys.executable, "-c", code, "--archive", str(m.archive_path),
                "--keys", str(m.keys)]
        for args in (["list"], ["show", "eo-1"], ["check", str(m.official)],
                     ["quote", QUOTE], ["search", "federal"]):
            r = subprocess.run([*base, *args], env=env, capture_output=True, text=True,
                               timeout=120, check=False)
            assert r.returncode == 0, (args, r.stderr)
            assert "Traceback" not in r.stderr
        assert not (m.archive_path / "index.sqlite").exists()
    finally:
        shutil.rmtree(home, ignore_errors=True)


# -- check's SAME TEXT reads the entry once (issue 11 item 12) ---------------------------------


class ChangingStore(FileStore):
    """A mirror that serves one version of the entry log, then another: every read after the
    first of the log's bytes returns *later*, as a mirror changed between two reads would."""

    def __init__(self, root: Path, later: bytes) -> None:
        super().__init__(root)
        self.later = later
        self.entry_reads = 0

    def read_range(self, name: str, offset: int, length: int) -> bytes:
        if name == ENTRIES:
            self.entry_reads += 1
            if self.entry_reads > 1:
                return self.later[offset : offset + length]
        return super().read_range(name, offset, length)


def test_same_text_is_decided_on_one_read_of_the_entry(
    make_archive: Callable[..., Archive], signer: Signer
) -> None:
    archive = make_archive(3)
    assert archive.path is not None
    keys = [signer.verifier()]
    archive.index(keys).close()  # up to date, as after any add
    pasted = text_request(1).data.replace(b"\n", b"\r\n")  # the same text, other bytes
    entries = (archive.path / ENTRIES).read_bytes()
    # Between two reads, the mirror swaps entry 1 for entry 2's line (same length): a second
    # read would pair the text compared with another, authentic entry.
    one, two = archive.entry(1).raw, archive.entry(2).raw
    assert len(one) == len(two)
    store = ChangingStore(archive.path, entries.replace(one, two))
    changing = Archive(store, archive.config, archive.path)
    result = check_copy(changing, pasted, keys, filename="pasted.txt")
    assert result.status == "same-text"
    assert result.entry is not None and result.entry.doc == "eo-1"
    assert store.entry_reads == 1


def test_search_suggests_a_word_when_nothing_matches(mirror: Mirror) -> None:
    r = mirror.run("search", "federl")
    assert r.exit_code == 0 and r.stdout == "no matches; did you mean: federal\n"
    doc = json.loads(mirror.run("--json", "search", "federl").stdout)
    assert doc["hits"] == [] and doc["suggestion"] == "federal" and doc["verified"] is True


def test_without_a_writable_cache_the_index_is_built_in_memory(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = mirror.root / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("ORDERARCHIVE_CACHE", str(blocker / "cache"))
    r = mirror.run("show", "eo-1")
    assert r.exit_code == 0 and "status:     amended" in r.stdout
    assert blocker.read_text() == "" and not (mirror.archive_path / "index.sqlite").exists()


def test_an_entry_by_an_untrusted_key_is_never_indexed(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint is signed by the trusted key, one entry by another key of the same name:
    the index refuses it (no command answers from the archive), it does not skip it."""
    from orderarchive.log.checkpoint import sign_checkpoint
    from orderarchive.log.log import Log

    stranger = Signer.generate(ORIGIN)
    monkeypatch.setattr(Log, "writer_head", lambda self, signer: self.head())
    monkeypatch.setattr(Archive, "_check_new", lambda self, *args: None)
    mirror.archive.add([text_request(5, doc="eo-5", relations=(("rescinds", "eo-4"),))],
                       stranger)
    cp = mirror.archive.head().checkpoint
    assert cp is not None
    (mirror.archive_path / "checkpoint").write_bytes(sign_checkpoint(cp, mirror.signer))
    for args in (("show", "eo-4"), ("show", "eo-5"), ("list",), ("search", "item")):
        r = mirror.run(*args)
        assert r.exit_code == 1, (args, r.output)
        assert r.stdout == "" and "not a trusted key" in r.stderr

"""Private key files (issue 11 item 9): loose permissions refused as ssh does, the Argon2id
cost a file may demand capped, and passphrases given without shell history or environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ORIGIN, REPO
from orderarchive.archive import Archive
from orderarchive.errors import KeyFileError
from orderarchive.log import keys
from orderarchive.log.note import Signer

FAST = {"opslimit": 1, "memlimit": 8192}
DEMO_KEY = REPO / "keys" / "DEMO-ONLY-NOT-SECRET.sample-archive.key"


def write_key(path: Path, passphrase: str | None, mode: int = 0o600,
              signer: Signer | None = None) -> Path:
    sealed = keys.seal(signer or Signer(name=ORIGIN, seed=bytes(range(32))), passphrase, **FAST)
    path.write_bytes(sealed.to_bytes())
    path.chmod(mode)
    return path


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orderarchive", *args], cwd=cwd, text=True,
        capture_output=True, timeout=120, env={**os.environ, **(env or {})}, check=False,
        **kwargs,
    )


def one_line_error(r: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


# -- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o610])
@pytest.mark.parametrize("passphrase", [None, "pw"])
def test_a_key_file_others_can_access_is_refused(
    tmp_path: Path, mode: int, passphrase: str | None
) -> None:
    path = write_key(tmp_path / "k.key", passphrase, mode)
    with pytest.raises(KeyFileError, match=r"^UNPROTECTED PRIVATE KEY FILE") as caught:
        keys.read_secret_key(path)
    assert f"mode {mode:04o}" in str(caught.value) and "chmod 600" in (caught.value.hint or "")


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_an_owner_only_key_file_is_read(tmp_path: Path, mode: int) -> None:
    path = write_key(tmp_path / "k.key", "pw", mode)
    assert keys.read_secret_key(path).unlock("pw").name == ORIGIN


def test_the_explicit_opt_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_key(tmp_path / "k.key", None, 0o644)
    assert keys.read_secret_key(path, allow_unprotected=True).name == ORIGIN
    monkeypatch.setenv(keys.ALLOW_UNPROTECTED_ENV, "1")
    assert keys.read_secret_key(path).name == ORIGIN
    monkeypatch.setenv(keys.ALLOW_UNPROTECTED_ENV, "yes")  # only "1" opts out
    with pytest.raises(KeyFileError, match="UNPROTECTED"):
        keys.read_secret_key(path)


def test_the_published_demo_key_is_read_whatever_its_mode(tmp_path: Path) -> None:
    # git does not keep mode 0600: a fresh clone's demo key is 0644, and the README uses it.
    demo = tmp_path / DEMO_KEY.name
    shutil.copyfile(DEMO_KEY, demo)
    demo.chmod(0o644)
    sealed = keys.read_secret_key(demo)
    assert sealed.is_demo and not sealed.encrypted
    # The marker makes an unencrypted key a demo key, never an encrypted one.
    assert not keys.seal(Signer(name=ORIGIN, seed=bytes(32)), "pw",
                         comment=keys.DEMO_KEY_MARKER, **FAST).is_demo
    assert not keys.seal(Signer(name=ORIGIN, seed=bytes(32)), None, comment="mine").is_demo


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_key_that_is_not_a_regular_file_is_refused_without_reading(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "k.key"
    if kind == "fifo":
        os.mkfifo(path)  # opened without blocking, refused without reading: no hang
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/zero")
    with pytest.raises(KeyFileError):
        keys.read_secret_key(path)


# -- Argon2id cost -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opslimit", "memlimit"),
    [(64, 4 * 1024**3), (3, 2 * 1024**3), (9, 256 * 1024**2), (3, 1024**3 + 1024), (0, 8192),
     (3, 4096)],
)
def test_a_key_file_demanding_too_much_argon2id_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opslimit: int, memlimit: int
) -> None:
    sealed = keys.seal(Signer(name=ORIGIN, seed=bytes(32)), "pw", **FAST)
    assert sealed.encryption is not None
    hostile = keys.SecretKeyFile(sealed.name, sealed.key_id, sealed.public_key, sealed.secret,
                                 {**sealed.encryption, "opslimit": opslimit, "memlimit": memlimit})
    path = tmp_path / "k.key"
    path.write_bytes(hostile.to_bytes())
    path.chmod(0o600)

    def no_work(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("Argon2id ran on parameters out of range")

    monkeypatch.setattr(keys.nacl.pwhash.argon2id, "kdf", no_work)
    with pytest.raises(KeyFileError, match="out of range"):
        keys.read_secret_key(path).unlock("pw")


def test_the_bounds_are_the_documented_ones() -> None:
    assert keys.MAX_MEMLIMIT == 1024**3 and keys.MAX_OPSLIMIT == 8
    assert keys.DEFAULT_MEMLIMIT <= keys.MAX_MEMLIMIT
    assert keys.DEFAULT_OPSLIMIT <= keys.MAX_OPSLIMIT
    with pytest.raises(KeyFileError, match="out of range"):
        keys.seal(Signer(name=ORIGIN, seed=bytes(32)), "pw", opslimit=9, memlimit=8192)


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def clerk(tmp_path: Path) -> Path:
    Archive.init(tmp_path / "archive", ORIGIN)
    (tmp_path / "order.txt").write_text("Executive Order\n\nThe City shall act.\n")
    return tmp_path


def log_bytes(work: Path) -> bytes:
    entries = work / "archive" / "log" / "entries"
    return entries.read_bytes() if entries.exists() else b""


def test_cli_add_refuses_an_unprotected_key_and_changes_nothing(clerk: Path) -> None:
    write_key(clerk / "k.key", None, 0o644)
    line = one_line_error(run("add", "--key", "k.key", "order.txt", cwd=clerk))
    assert "UNPROTECTED PRIVATE KEY FILE" in line and "chmod 600 k.key" in line
    assert log_bytes(clerk) == b""


def test_cli_warns_when_the_demo_key_signs(clerk: Path) -> None:
    r = run("--archive", str(REPO / "archive"), "export-sig", "boston-eo-2026-02-05-specimen",
            "--key", str(DEMO_KEY), "-o", "-", cwd=clerk)
    assert r.returncode == 0, r.stderr
    assert "the published demo key" in r.stderr


def test_cli_passphrase_from_a_file_descriptor(clerk: Path) -> None:
    write_key(clerk / "k.key", "correct horse", 0o600)
    read, write = os.pipe()
    os.write(write, b"correct horse\n")
    os.close(write)
    try:
        r = run("add", "--key", "k.key", "--passphrase-fd", str(read), "order.txt",
                cwd=clerk, pass_fds=(read,))
    finally:
        os.close(read)
    assert r.returncode == 0, r.stderr
    assert log_bytes(clerk) != b""


def test_cli_passphrase_from_a_file(clerk: Path) -> None:
    write_key(clerk / "k.key", "correct horse", 0o600)
    (clerk / "pass").write_text("correct horse\n")
    r = run("add", "--key", "k.key", "--passphrase-file", "pass", "order.txt", cwd=clerk,
            env={"ORDERARCHIVE_PASSPHRASE": "wrong"})  # the option wins over the environment
    assert r.returncode == 0, r.stderr
    (clerk / "pass").write_text("wrong\n")
    r = run("release", "--key", "k.key", "--passphrase-file", "pass", cwd=clerk)
    assert "wrong passphrase" in one_line_error(r)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--passphrase-fd", "97"), "cannot read the passphrase from file descriptor 97"),
        (("--passphrase-file", "missing"), "cannot read the passphrase from missing"),
        (("--passphrase-file", "empty"), "no passphrase in empty"),
        (("--passphrase-file", "empty", "--passphrase-fd", "0"), "not both"),
        (("--passphrase-fd", "-1"), "--passphrase-fd"),
    ],
)
def test_cli_bad_passphrase_sources(clerk: Path, args: tuple[str, ...], message: str) -> None:
    write_key(clerk / "k.key", "correct horse", 0o600)
    (clerk / "empty").write_text("\n")
    r = run("add", "--key", "k.key", *args, "order.txt", cwd=clerk)
    assert message in one_line_error(r)
    assert log_bytes(clerk) == b""


def test_cli_key_generate_with_a_passphrase_file(clerk: Path) -> None:
    (clerk / "pass").write_text("correct horse battery staple\n")
    r = run("key", "generate", ORIGIN, "--secret-key", "new.key", "--passphrase-file", "pass",
            cwd=clerk)
    assert r.returncode == 0, r.stderr
    assert "(encrypted, mode 0600)" in r.stdout
    sealed = keys.read_secret_key(clerk / "new.key")
    assert sealed.encrypted

"""Signing with a key held by a real ssh-agent (OpenSSH's ssh-agent and ssh-add, started here)."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ORIGIN, text_request
from orderarchive.archive import Archive
from orderarchive.log.agent import AgentError, AgentSigner, agent_keys
from orderarchive.log.checkpoint import open_checkpoint
from orderarchive.log.keyset import (
    ENTRY,
    LOG,
    RELEASE,
    ROOT,
    KeyRecord,
    KeySet,
    SignedKeySet,
    cosign,
    read_trust,
)
from orderarchive.log.note import Signer, VerifierKey


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("ORDERARCHIVE_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{name} is not installed (apt-get install openssh-client)")
        pytest.skip(f"{name} is not installed (apt-get install openssh-client)")
    return path


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[str, list[bytes]]]:
    """A fresh ssh-agent on its own socket holding two new Ed25519 keys and an RSA-less
    setup; yields the socket path and the Ed25519 public keys, then stops that agent."""
    ssh_agent, ssh_add, ssh_keygen = _tool("ssh-agent"), _tool("ssh-add"), _tool("ssh-keygen")
    sock = tmp_path / "agent.sock"
    proc = _start_agent([ssh_agent, "-D", "-a", str(sock)])
    try:
        publics = []
        for label in ("one", "two"):
            key = tmp_path / label
            subprocess.run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", label, "-f",
                            str(key)], check=True)
            subprocess.run([ssh_add, "-q", str(key)], check=True, capture_output=True,
                           env=dict(os.environ, SSH_AUTH_SOCK=str(sock)))
            blob = base64.b64decode((tmp_path / f"{label}.pub").read_text().split()[1])
            publics.append(blob[-32:])
        yield str(sock), publics
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _start_agent(argv: list[str]) -> subprocess.Popen[str]:
    """Start an agent in the foreground (``ssh-agent -D``) and return once it accepts
    connections. The socket file appears at bind(), before listen(): a client connecting in
    between is refused (the flaky ssh-add under load). ``ssh-agent -D`` prints its
    ``SSH_AUTH_SOCK=...`` line only after listen(), so that line is waited for, not the file
    and not a clock."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("SSH_AUTH_SOCK="):
        proc.kill()
        proc.wait()
        proc.stdout.close()
        pytest.fail(f"ssh-agent did not start: {line!r} (exit {proc.returncode})")
    return proc


_SLOW_AGENT = """
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])  # the socket file exists from here...
time.sleep(0.5)      # ...an agent descheduled under load...
s.listen(1)          # ...and accepts connections only from here
print(f"SSH_AUTH_SOCK={sys.argv[1]}; export SSH_AUTH_SOCK;", flush=True)
s.accept()[0].close()
"""


def test_the_agent_is_used_only_once_it_listens(tmp_path: Path) -> None:
    """The fixture's start of an agent returns once it listens, however slowly it gets there
    after its socket file appeared (an agent that binds, stalls, then listens)."""
    import socket
    import sys

    sock = tmp_path / "slow.sock"
    proc = _start_agent([sys.executable, "-c", _SLOW_AGENT, str(sock)])
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))  # refused if the start returned at bind()
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_agent_lists_and_signs_plain_ed25519(agent: tuple[str, list[bytes]]) -> None:
    sock, publics = agent
    assert sorted(k for k, _ in agent_keys(sock)) == sorted(publics)
    signer = AgentSigner.find(ORIGIN, publics[0], socket_path=sock)
    sig = signer.sign(b"hello")
    assert signer.verifier().verify(b"hello", sig)
    assert signer.verifier() == VerifierKey.from_public_key(ORIGIN, publics[0])
    with pytest.raises(AgentError, match="2 Ed25519 keys"):
        AgentSigner.find(ORIGIN, socket_path=sock)


def test_archive_written_and_released_with_agent_keys(
    agent: tuple[str, list[bytes]], tmp_path: Path
) -> None:
    """An archive whose writer key and a release holder's key both stay in the agent."""
    sock, publics = agent
    writer = AgentSigner.find(ORIGIN, publics[0], socket_path=sock)
    holder = AgentSigner.find(f"{ORIGIN}/clerk", publics[1], socket_path=sock)
    deputy = Signer(f"{ORIGIN}/deputy", b"d" * 32)  # a key file, beside the agent's keys
    ks = KeySet.build(ORIGIN, version=1, prev=None, keys=[
        KeyRecord(writer.verifier(), (ENTRY, LOG)),
        KeyRecord(holder.verifier(), (RELEASE, ROOT)),
        KeyRecord(deputy.verifier(), (RELEASE, ROOT)),
    ], thresholds={ROOT: 2, RELEASE: 2, ENTRY: 1, LOG: 1})
    signed = SignedKeySet.sign(ks, [holder, deputy])
    a = Archive.init(tmp_path / "a", ORIGIN)
    a.append_keyset(signed, writer)
    a.add([text_request(1)], writer)
    a.publish_release(cosign(cosign(a.prepare_release(writer), holder), deputy), writer)
    history = a.key_history(read_trust(signed.to_bytes(), ORIGIN))
    a.verify(history, workers=1)
    open_checkpoint((tmp_path / "a/releases/2").read_bytes(), [writer.verifier()])


def test_agent_refusals_are_one_line_errors(agent: tuple[str, list[bytes]], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sock, publics = agent
    with pytest.raises(AgentError, match="no such Ed25519 key"):
        AgentSigner.find(ORIGIN, bytes(32), socket_path=sock)
    with pytest.raises(AgentError, match="cannot talk to ssh-agent"):
        AgentSigner.find(ORIGIN, socket_path=str(tmp_path / "nothing.sock"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with pytest.raises(AgentError, match="SSH_AUTH_SOCK is not set"):
        agent_keys()
    signer = AgentSigner.find(ORIGIN, publics[0], socket_path=sock)
    with pytest.raises(AgentError, match="no secret key string"):
        signer.to_go_skey()
    subprocess.run([_tool("ssh-add"), "-D"], check=True, capture_output=True,
                   env=dict(os.environ, SSH_AUTH_SOCK=sock))
    with pytest.raises(AgentError, match="refused to sign"):
        signer.sign(b"after the key was removed")


def test_cli_writes_with_an_agent_key(agent: tuple[str, list[bytes]], tmp_path: Path) -> None:
    """``--key ssh-agent:VKEY``: add and release with the agent's key; verify with its vkey;
    no agent key for the spec is a one-line error (exit 2), nothing written."""
    from test_cli import one_line_error, run

    sock, publics = agent
    env = {"SSH_AUTH_SOCK": sock}
    vkey = VerifierKey.from_public_key(ORIGIN, publics[1]).to_string()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys/clerk.vkey").write_text(vkey + "\n")
    assert run("init", "--origin", ORIGIN, cwd=tmp_path).returncode == 0
    (tmp_path / "order.txt").write_text("Executive Order 1\n\nSection 1. Act.\n")
    r = run("add", "--key", f"ssh-agent:{vkey}", "order.txt", "--id", "eo-1", "--issued",
            "2026-02-05", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    r = run("release", "--key", f"ssh-agent:{vkey}", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    r = run("verify", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    before = (tmp_path / "archive/log/entries").read_bytes()
    (tmp_path / "order2.txt").write_text("Executive Order 2\n\nSection 1. Act.\n")
    r = run("add", "--key", "ssh-agent", "order2.txt", cwd=tmp_path, env=env)
    assert "2 Ed25519 keys" in one_line_error(r, 2)
    other = VerifierKey.from_public_key(ORIGIN, bytes(range(32))).to_string()
    r = run("add", "--key", f"ssh-agent:{other}", "order2.txt", cwd=tmp_path, env=env)
    assert "no such Ed25519 key" in one_line_error(r, 2)
    assert (tmp_path / "archive/log/entries").read_bytes() == before

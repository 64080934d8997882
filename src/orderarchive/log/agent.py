"""Signing with an Ed25519 key held by ssh-agent (OpenSSH), so the key never touches the disk.

An Ed25519 key in an agent (or in a hardware token behind it) signs raw data with plain
Ed25519 (RFC 8032; draft-ietf-sshm-ssh-agent §3.6: ``ssh-ed25519`` signatures carry no
hash-algorithm flags), so every signature orderarchive makes — entries, checkpoints, key sets,
release co-signatures — can come from the agent unchanged. The witness tool litewitness holds
its key the same way.

The agent protocol (draft-ietf-sshm-ssh-agent, OpenSSH's PROTOCOL.agent) is spoken here over
the UNIX socket named by ``$SSH_AUTH_SOCK`` with the standard library: every message is a
``uint32`` length and a type byte; ``SSH2_AGENTC_REQUEST_IDENTITIES`` (11) lists the keys
(answer 12: ``uint32`` count, then ``string key blob, string comment`` each);
``SSH2_AGENTC_SIGN_REQUEST`` (13: ``string key blob, string data, uint32 flags``) signs (answer
14: ``string signature blob``); ``SSH_AGENT_FAILURE`` (5) refuses. An Ed25519 key blob is
``string "ssh-ed25519", string public key[32]``; its signature blob ``string "ssh-ed25519",
string signature[64]``.

Every signature the agent returns is verified against the key before it is used: an agent is
another process, and a wrong signature must never be written into the log.
"""

from __future__ import annotations

import os
import socket
import struct

import attrs

from ..errors import AgentError
from .note import ALG_ED25519, Signer, VerifierKey, key_id
from .signing import ed25519_verify

__all__ = ["AGENT_ENV", "AgentError", "AgentSigner", "agent_keys"]

AGENT_ENV = "SSH_AUTH_SOCK"
_FAILURE = 5
_REQUEST_IDENTITIES, _IDENTITIES_ANSWER = 11, 12
_SIGN_REQUEST, _SIGN_RESPONSE = 13, 14
_ED25519 = b"ssh-ed25519"
MAX_MESSAGE = 256 * 1024  # OpenSSH's agent refuses messages over 256 KiB too
TIMEOUT = 30.0  # seconds: a hardware token may ask for a touch
_NO_SEED = bytes(32)  # AgentSigner has no seed; Signer's field holds this placeholder



def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise AgentError("ssh-agent sent a truncated message")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def uint32(self) -> int:
        (value,) = struct.unpack(">I", self.take(4))
        return int(value)

    def string(self) -> bytes:
        return self.take(self.uint32())


def _socket_path(path: str | None) -> str:
    where = path or os.environ.get(AGENT_ENV)
    if not where:
        raise AgentError(
            f"no ssh-agent: {AGENT_ENV} is not set",
            hint="start one (eval $(ssh-agent)) and add the key with ssh-add",
        )
    return where


def _request(path: str | None, message: bytes) -> tuple[int, _Reader]:
    where = _socket_path(path)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT)
            s.connect(where)
            s.sendall(_string(message))
            header = _recv(s, 4)
            (length,) = struct.unpack(">I", header)
            if not 1 <= length <= MAX_MESSAGE:
                raise AgentError(f"ssh-agent sent a message of {length} bytes")
            body = _recv(s, length)
    except OSError as e:
        raise AgentError(f"cannot talk to ssh-agent at {where}: {e.strerror or e}") from e
    return body[0], _Reader(body[1:])


def _recv(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise AgentError("ssh-agent closed the connection mid-message")
        out += chunk
    return out


def _public_of_blob(blob: bytes) -> bytes | None:
    r = _Reader(blob)
    try:
        if r.string() != _ED25519:
            return None
        public = r.string()
    except AgentError:
        return None
    return public if len(public) == 32 and r.at == len(blob) else None


def agent_keys(path: str | None = None) -> list[tuple[bytes, str]]:
    """The Ed25519 public keys the agent holds, with their comments (other types skipped)."""
    kind, r = _request(path, bytes([_REQUEST_IDENTITIES]))
    if kind != _IDENTITIES_ANSWER:
        raise AgentError(f"ssh-agent did not list its keys (answer type {kind})")
    out = []
    for _ in range(r.uint32()):
        blob, comment = r.string(), r.string()
        public = _public_of_blob(blob)
        if public is not None:
            out.append((public, comment.decode("utf-8", "replace")))
    return out


@attrs.frozen
class AgentSigner(Signer):
    """A :class:`Signer` whose Ed25519 key stays in ssh-agent; named like any note key.

    It has no seed (:attr:`seed` holds a placeholder that nothing signs with): what needs the
    seed itself (sealing it in a key file, Go's secret key string) refuses it.
    """

    public: bytes = attrs.field(kw_only=True)
    socket_path: str | None = attrs.field(default=None, kw_only=True)

    @classmethod
    def find(
        cls, name: str, public_key: bytes | None = None, *, socket_path: str | None = None
    ) -> AgentSigner:
        """The agent's key *public_key* (or its only Ed25519 key) under the key name *name*."""
        keys = agent_keys(socket_path)
        if public_key is not None:
            keys = [k for k in keys if k[0] == public_key]
        if not keys:
            raise AgentError(
                "ssh-agent holds no such Ed25519 key" if public_key else
                "ssh-agent holds no Ed25519 key",
                hint="add it with ssh-add",
            )
        if len(keys) > 1:
            raise AgentError(
                f"ssh-agent holds {len(keys)} Ed25519 keys; name the one to use",
                hint="name the key by its verifier key (name+hash+key)",
            )
        return cls(name, _NO_SEED, public=keys[0][0], socket_path=socket_path)

    @classmethod
    def for_verifier(cls, vkey: VerifierKey, *, socket_path: str | None = None) -> AgentSigner:
        if vkey.key_type != ALG_ED25519:
            raise AgentError("only plain Ed25519 verifier keys (type 0x01) can sign")
        return cls.find(vkey.name, vkey.public_key, socket_path=socket_path)

    @property
    def public_key(self) -> bytes:
        return self.public

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, bytes([ALG_ED25519]) + self.public)

    def verifier(self) -> VerifierKey:
        return VerifierKey.from_public_key(self.name, self.public)

    def to_go_skey(self) -> str:
        raise AgentError("a key held by ssh-agent has no secret key string to export")

    def sign(self, msg: bytes) -> bytes:
        blob = _string(_ED25519) + _string(self.public)
        request = bytes([_SIGN_REQUEST]) + _string(blob) + _string(msg) + struct.pack(">I", 0)
        kind, r = _request(self.socket_path, request)
        if kind == _FAILURE:
            raise AgentError("ssh-agent refused to sign (key removed, or confirmation denied)")
        if kind != _SIGN_RESPONSE:
            raise AgentError(f"ssh-agent did not sign (answer type {kind})")
        sig_blob = _Reader(r.string())
        if sig_blob.string() != _ED25519:
            raise AgentError("ssh-agent answered with a signature that is not ssh-ed25519")
        signature = sig_blob.string()
        if not ed25519_verify(self.public, msg, signature):
            raise AgentError("ssh-agent returned a signature that does not verify")
        return signature

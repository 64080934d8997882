"""Key files: private keys encrypted at rest, public keys as C2SP verifier keys.

A private key file is canonical JSON (one line, newline-terminated)::

    {"comment":..., "encryption":{"kdf":"argon2id","memlimit":M,"nonce":B64,"opslimit":O,
     "salt":B64}, "format":"orderarchive-secret-key/v1", "key_id":"c74f20a3", "name":NAME,
     "secret":B64}

``secret`` is the 32-byte Ed25519 seed sealed with XSalsa20-Poly1305 (``nacl.secret.SecretBox``)
under a key derived from the passphrase by Argon2id (``nacl.pwhash.argon2id``); with
``"encryption":null`` (``--unencrypted``, for demo and test keys only) it is the bare seed.
Files are created mode 0600 and never overwritten. The public half is the C2SP signed-note
verifier key ``name+<8 hex key id>+base64(0x01 || public key)`` in ``<keys dir>/<file>.vkey``.

Trust comes only from verifier keys the user supplies; nothing here reads keys from an archive.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from .. import canonical
from ..errors import CanonicalJSONError, KeyFileError, NoteFormatError, PassphraseError, Remedy
from .note import Signer, VerifierKey, b64encode

SECRET_KEY_FORMAT = "orderarchive-secret-key/v1"  # noqa: S105 (a format name)
PASSPHRASE_ENV = "ORDERARCHIVE_PASSPHRASE"  # noqa: S105 (a variable name)
MAX_KEY_FILE = 64 * 1024
# Like ssh, a private key file that others may read is refused; this variable (set to 1)
# is the explicit opt-out, for file systems without Unix permissions.
ALLOW_UNPROTECTED_ENV = "ORDERARCHIVE_ALLOW_UNPROTECTED_KEY"
# The published demo key (docs/sample/build.py writes this comment into an unencrypted file):
# it has no secret to protect, so its mode is not checked, and the CLI warns whenever it signs.
DEMO_KEY_MARKER = "DEMO KEY - PUBLISHED ON PURPOSE - NOT SECRET"

# What a key file may ask Argon2id for. A hostile file asking for 4 GiB and 64 passes costs
# 4.2 GB and minutes; these bounds are libsodium's "sensitive" memory (1 GiB) and twice its
# passes, refused before any work. Files this module writes stay inside them.
MAX_MEMLIMIT = 1024**3
MIN_MEMLIMIT = 8192
MAX_OPSLIMIT = 8
MIN_OPSLIMIT = 1
MAX_VKEY_FILE = 4096  # a verifier key is one line of ~100 bytes
#: The shortest passphrase a new key is sealed with, in characters. Argon2id slows each guess,
#: it does not make a short passphrase long: 12 characters is the floor OWASP and NIST SP
#: 800-63B (8, "at least") point above for a secret that guards a signing key offline. Keys
#: sealed before, or by other tools, still open with whatever passphrase they have.
MIN_PASSPHRASE_LENGTH = 12

# Argon2id at libsodium's "moderate" cost (256 MiB, 3 passes): about half a second to unlock,
# which is paid once per command, and expensive for an attacker holding a stolen key file.
DEFAULT_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
DEFAULT_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MODERATE


def file_stem(name: str) -> str:
    """A file-name-safe stem for a key name (origins contain ``/``)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return stem or "key"


def default_secret_dir() -> Path:
    """Where private keys live by default: outside any archive, in the user's config dir."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "orderarchive" / "keys"


def _unb64(text: object, what: str, length: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise KeyFileError(f"key file field {what} is not a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise KeyFileError(f"key file field {what} is not valid base64") from e
    if length is not None and len(raw) != length:
        raise KeyFileError(f"key file field {what} has {len(raw)} bytes, expected {length}")
    return raw


@attrs.frozen
class SecretKeyFile:
    """A parsed private key file (still sealed if encrypted)."""

    name: str
    key_id: str
    public_key: bytes
    secret: bytes
    encryption: dict[str, object] | None = attrs.field(eq=False)
    comment: str | None = None

    @property
    def encrypted(self) -> bool:
        return self.encryption is not None

    @property
    def is_demo(self) -> bool:
        """An unencrypted key that says it is published on purpose (the sample's demo key)."""
        return self.encryption is None and (self.comment or "").startswith(DEMO_KEY_MARKER)

    def to_bytes(self) -> bytes:
        doc: dict[str, object] = {
            "format": SECRET_KEY_FORMAT,
            "name": self.name,
            "key_id": self.key_id,
            "public_key": b64encode(self.public_key),
            "encryption": self.encryption,
            "secret": b64encode(self.secret),
        }
        if self.comment is not None:
            doc["comment"] = self.comment
        return canonical.dumps(doc) + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> SecretKeyFile:
        if len(data) > MAX_KEY_FILE:
            raise KeyFileError("key file is too large")
        body = data[:-1] if data.endswith(b"\n") else data
        try:
            doc = canonical.loads(body)
        except CanonicalJSONError as e:
            raise KeyFileError(f"not an orderarchive private key file ({e})") from e
        if not isinstance(doc, dict) or doc.get("format") != SECRET_KEY_FORMAT:
            raise KeyFileError("not an orderarchive private key file (unknown format)")
        name, key_id = doc.get("name"), doc.get("key_id")
        comment = doc.get("comment")
        encryption = doc.get("encryption")
        if not isinstance(name, str) or not isinstance(key_id, str):
            raise KeyFileError("key file lacks a name or key id")
        if comment is not None and not isinstance(comment, str):
            raise KeyFileError("key file comment is not a string")
        if encryption is not None and not isinstance(encryption, dict):
            raise KeyFileError("key file encryption field is malformed")
        return cls(
            name=name,
            key_id=key_id,
            public_key=_unb64(doc.get("public_key"), "public_key", 32),
            secret=_unb64(doc.get("secret"), "secret"),
            encryption=encryption,
            comment=comment,
        )

    def unlock(self, passphrase: str | None) -> Signer:
        """Decrypt (if needed) and check the key against its recorded public half."""
        if self.encryption is None:
            seed = self.secret
        else:
            if passphrase is None:
                raise PassphraseError(
                    "this private key is encrypted and no passphrase was given",
                    hint=f"give the passphrase, or set {PASSPHRASE_ENV}",
                    remedy=Remedy.PASSPHRASE,
                )
            seed = _open_secret(self.encryption, self.secret, passphrase)
        if len(seed) != 32:
            raise KeyFileError("private key has the wrong length")
        try:
            signer = Signer(name=self.name, seed=seed)
            verifier = signer.verifier()
        except NoteFormatError as e:
            raise KeyFileError(f"private key is unusable: {e}") from e
        if not hmac.compare_digest(verifier.public_key, self.public_key) or (
            verifier.key_hash_hex != self.key_id
        ):
            raise KeyFileError("private key does not match its recorded public key")
        return signer


def _kdf_params(enc: dict[str, object]) -> tuple[int, int, bytes]:
    if enc.get("kdf") != "argon2id":
        raise KeyFileError(f"unsupported key derivation {enc.get('kdf')!r}")
    ops, mem = enc.get("opslimit"), enc.get("memlimit")
    if not isinstance(ops, int) or not isinstance(mem, int):
        raise KeyFileError("key file Argon2id parameters are malformed")
    # Hostile key files must not make us allocate unbounded memory or loop forever.
    if not (MIN_OPSLIMIT <= ops <= MAX_OPSLIMIT and MIN_MEMLIMIT <= mem <= MAX_MEMLIMIT):
        raise KeyFileError(
            f"key file Argon2id parameters are out of range: {ops} passes over {mem} bytes "
            f"asked, accepted are "
            f"{MIN_OPSLIMIT}-{MAX_OPSLIMIT} passes and {MIN_MEMLIMIT}-{MAX_MEMLIMIT} bytes",
            hint="re-create the key with 'orderarchive key generate' (default: 3 passes, "
            "256 MiB)",
        )
    salt = _unb64(enc.get("salt"), "salt", nacl.pwhash.argon2id.SALTBYTES)
    return ops, mem, salt


def _derive(passphrase: str, ops: int, mem: int, salt: bytes) -> bytes:
    try:
        return nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            passphrase.encode("utf-8"),
            salt,
            opslimit=ops,
            memlimit=mem,
        )
    except (nacl.exceptions.CryptoError, MemoryError) as e:
        raise KeyFileError(f"cannot derive the key-encryption key: {e}") from e


def _open_secret(enc: dict[str, object], sealed: bytes, passphrase: str) -> bytes:
    ops, mem, salt = _kdf_params(enc)
    nonce = _unb64(enc.get("nonce"), "nonce", nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_derive(passphrase, ops, mem, salt))
    try:
        return bytes(box.decrypt(sealed, nonce))
    except nacl.exceptions.CryptoError as e:
        raise PassphraseError("wrong passphrase for this private key") from e


def seal(
    signer: Signer,
    passphrase: str | None,
    *,
    comment: str | None = None,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> SecretKeyFile:
    """A key file for *signer*, encrypted under *passphrase* (None: unencrypted)."""
    verifier = signer.verifier()
    encryption: dict[str, object] | None = None
    secret = signer.seed
    if passphrase is not None:
        if not passphrase:
            raise PassphraseError("an empty passphrase would not protect the key")
        _kdf_params({"kdf": "argon2id", "opslimit": opslimit, "memlimit": memlimit,
                     "salt": b64encode(bytes(nacl.pwhash.argon2id.SALTBYTES))})  # the same bounds
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
        box = nacl.secret.SecretBox(_derive(passphrase, opslimit, memlimit, salt))
        secret = bytes(box.encrypt(signer.seed, nonce).ciphertext)
        encryption = {
            "kdf": "argon2id",
            "opslimit": opslimit,
            "memlimit": memlimit,
            "salt": b64encode(salt),
            "nonce": b64encode(nonce),
        }
    return SecretKeyFile(
        name=signer.name,
        key_id=verifier.key_hash_hex,
        public_key=verifier.public_key,
        secret=secret,
        encryption=encryption,
        comment=comment,
    )


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as e:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from e
    except OSError as e:
        raise KeyFileError(f"cannot create {path}: {e.strerror}") from e
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


@attrs.frozen
class GeneratedKey:
    verifier: VerifierKey
    secret_path: Path
    public_path: Path
    encrypted: bool


def generate(
    name: str,
    *,
    keys_dir: Path,
    secret_path: Path | None = None,
    passphrase: str | None,
    comment: str | None = None,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> GeneratedKey:
    """Make a new Ed25519 key: the sealed private half (mode 0600) and the verifier key.

    A *passphrase* shorter than :data:`MIN_PASSPHRASE_LENGTH` is refused before anything is
    made (:func:`check_new_passphrase`)."""
    if passphrase is not None:
        check_new_passphrase(passphrase)
    try:
        signer = Signer.generate(name)
    except NoteFormatError as e:
        raise KeyFileError(f"invalid key name {name!r}: {e}") from e
    stem = file_stem(name)
    secret_path = secret_path or default_secret_dir() / f"{stem}.key"
    public_path = keys_dir / f"{stem}.vkey"
    if public_path.exists():
        raise KeyFileError(f"{public_path} already exists; refusing to overwrite a key")
    sealed = seal(signer, passphrase, comment=comment, opslimit=opslimit, memlimit=memlimit)
    _write_exclusive(secret_path, sealed.to_bytes(), 0o600)
    _write_exclusive(public_path, (signer.verifier().to_string() + "\n").encode(), 0o644)
    return GeneratedKey(signer.verifier(), secret_path, public_path, passphrase is not None)


def check_new_passphrase(passphrase: str) -> None:
    """Refuse a passphrase too short to seal a new key (its length is not printed)."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise KeyFileError(
            f"the passphrase is too short: a new key needs at least {MIN_PASSPHRASE_LENGTH} "
            "characters",
            hint="use a longer passphrase, e.g. several words",
        )


def read_secret_key(path: Path, *, allow_unprotected: bool | None = None) -> SecretKeyFile:
    """Read a private key file: a regular file of at most MAX_KEY_FILE bytes that only its
    owner may read or write (ssh's rule), unless it is the published demo key or
    *allow_unprotected* (default: ORDERARCHIVE_ALLOW_UNPROTECTED_KEY=1) says otherwise."""
    if allow_unprotected is None:
        allow_unprotected = os.environ.get(ALLOW_UNPROTECTED_ENV) == "1"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not hang
    except FileNotFoundError as e:
        raise KeyFileError(f"private key {path} not found") from e
    except OSError as e:
        raise KeyFileError(f"cannot read private key {path}: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"private key {path} is not a regular file")
        if st.st_size > MAX_KEY_FILE:
            raise KeyFileError(f"private key {path} is too large for a key file")
        data = os.read(fd, MAX_KEY_FILE + 1)
    except OSError as e:
        raise KeyFileError(f"cannot read private key {path}: {e.strerror}") from e
    finally:
        os.close(fd)
    sealed = SecretKeyFile.from_bytes(data)
    loose = st.st_mode & 0o077
    if loose and os.name == "posix" and not allow_unprotected and not sealed.is_demo:
        raise KeyFileError(
            f"UNPROTECTED PRIVATE KEY FILE: {path} has mode {stat.S_IMODE(st.st_mode):04o}; "
            "a private key must not be accessible by others",
            hint=f"chmod 600 {path} (or set {ALLOW_UNPROTECTED_ENV}=1 where file modes "
            "mean nothing)",
        )
    return sealed


MAX_PASSPHRASE = 4096


def read_passphrase(*, fd: int | None = None, path: Path | None = None) -> str:
    """The first line of file descriptor *fd* or of the file *path* (``--passphrase-fd``,
    ``--passphrase-file``): ways to give a passphrase that stay out of shell history and out
    of the environment, which other processes of the same user can read."""
    where = f"file descriptor {fd}" if fd is not None else str(path)
    try:
        if fd is not None:
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.readline(MAX_PASSPHRASE + 1)
        elif path is not None:
            with path.open("rb") as f:
                data = f.readline(MAX_PASSPHRASE + 1)
        else:
            raise ValueError("read_passphrase needs fd or path")
    except OSError as e:
        raise PassphraseError(f"cannot read the passphrase from {where}: {e.strerror}") from e
    if len(data) > MAX_PASSPHRASE:
        raise PassphraseError(f"the passphrase in {where} is longer than {MAX_PASSPHRASE} bytes")
    try:
        text = data.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError as e:
        raise PassphraseError(f"the passphrase in {where} is not UTF-8") from e
    if not text:
        raise PassphraseError(f"no passphrase in {where} (its first line is empty)")
    return text


def parse_verifier(text: str, source: str) -> VerifierKey:
    try:
        return VerifierKey.parse(text.strip())
    except NoteFormatError as e:
        raise KeyFileError(f"{source}: not a verifier key ({e})") from e


def load_verifiers(sources: Iterable[str | Path]) -> list[VerifierKey]:
    """Trusted keys from files, directories of ``*.vkey`` files, or literal verifier keys."""
    keys: list[VerifierKey] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files = sorted(path.glob("*.vkey"))
            keys.extend(_read_vkey_file(f) for f in files)
        elif path.is_file():
            keys.append(_read_vkey_file(path))
        elif isinstance(source, str) and source.count("+") >= 2:
            keys.append(parse_verifier(source, "trusted key"))
        else:
            raise KeyFileError(f"trusted key {source} not found")
    return keys


def _read_vkey_file(path: Path) -> VerifierKey:
    from ..userfiles import read_bounded  # bounded, and never blocked by a FIFO

    data = read_bounded(path, MAX_VKEY_FILE, what="verifier key", error=KeyFileError,
                        missing=KeyFileError)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        raise KeyFileError(f"{path}: not a verifier key (not ASCII)") from e
    return parse_verifier(text, str(path))


def find_verifier(keys: Sequence[VerifierKey], name: str, key_id: str) -> VerifierKey | None:
    for key in keys:
        if key.name == name and key.key_hash_hex == key_id:
            return key
    return None

"""A user's script of the public API, checked by ``mypy --strict`` (tests/test_public_api.py).

Never run: it only has to type-check, and each ``reveal_type`` must show a real type, not Any.
"""

from __future__ import annotations

from pathlib import Path
from typing import reveal_type

from orderarchive import (
    Archive,
    check_copy,
    check_history,
    check_quote,
    document_status,
    load_verifiers,
    read_document,
    verify_proof,
)


def use(root: Path, copy: bytes, proof: bytes) -> None:
    keys = load_verifiers([root / "keys"])
    archive = Archive.open(root)
    reveal_type(check_copy(archive, copy, keys))
    reveal_type(check_quote(archive, "a quotation", verifiers=keys))
    reveal_type(document_status(archive, "eo-1", keys))
    reveal_type(archive.documents(keys))
    reveal_type(archive.verify(keys))
    reveal_type(check_history(archive, keys, archive.audit(keys)))
    reveal_type(verify_proof(copy, proof, keys))
    reveal_type(read_document(copy))
    for listed in archive.documents(keys):
        reveal_type(listed.sha256)
        print(listed.doc, listed.status, listed.released, listed.sha256.hex())
    result = check_copy(archive, copy, keys)
    print(result.status, result.sha256.hex())

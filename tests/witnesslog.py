"""A scratch log for witness tests: leaves in memory, signed checkpoints, consistency proofs."""

from __future__ import annotations

import base64

from orderarchive.log import merkle
from orderarchive.log.checkpoint import Checkpoint, sign_checkpoint
from orderarchive.log.note import Signer
from orderarchive.log.witness import AddCheckpointRequest


class ScratchLog:
    def __init__(self, signer: Signer, tag: bytes = b"") -> None:
        self.signer = signer
        self.tag = tag
        self.tree = merkle.MemoryHashStore()

    def grow(self, size: int) -> None:
        while self.tree.size < size:
            self.tree.append_record(merkle.leaf_hash(self.tag + b"leaf %d" % self.tree.size))

    def root(self, size: int) -> bytes:
        return merkle.tree_hash(size, self.tree.read)

    def checkpoint(self, size: int) -> bytes:
        self.grow(size)
        return sign_checkpoint(Checkpoint(self.signer.name, size, self.root(size)), self.signer)

    def proof(self, old: int, new: int) -> tuple[bytes, ...]:
        self.grow(new)
        if old in (0, new):
            return ()
        return tuple(merkle.consistency_proof(old, new, self.tree.read))

    def request(self, old: int, new: int) -> bytes:
        return AddCheckpointRequest(old, self.proof(old, new), self.checkpoint(new)).to_bytes()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()

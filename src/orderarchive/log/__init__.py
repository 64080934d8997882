"""The signed log: its formats, signatures, storage and audit."""

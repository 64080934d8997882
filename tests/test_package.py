"""The package's public surface and its import discipline (a pure core, I/O at the edges)."""

from __future__ import annotations

import subprocess
import sys

import orderarchive


def test_public_names_resolve() -> None:
    for name in orderarchive.__all__:
        assert getattr(orderarchive, name) is not None


def _modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    return set(out.stdout.split())


def test_core_imports_neither_click_nor_pypdf() -> None:
    loaded = _modules_after(
        "import orderarchive, orderarchive.log.merkle, orderarchive.log.note, "
        "orderarchive.log.checkpoint, orderarchive.log.entry, orderarchive.canonical, "
        "orderarchive.citations.quote, orderarchive.citations.brief, "
        "orderarchive.log.textlayer, orderarchive.log.tlogproof, orderarchive.archive"
    )
    assert "click" not in loaded
    assert "pypdf" not in loaded


def test_cli_start_does_not_import_pypdf_or_sqlite() -> None:
    loaded = _modules_after("import orderarchive.cli")
    assert "pypdf" not in loaded
    assert "sqlite3" not in loaded


def test_checking_commands_load_only_what_they_use() -> None:
    # check, prove and verify-proof must start fast at any archive size (issue 6): the text
    # comparison, ingestion and minisign code is loaded only when a command needs it.
    loaded = _modules_after("import orderarchive.cli, orderarchive.cli.proofs")
    for heavy in ("orderarchive.copies", "orderarchive.log.textlayer",
                  "orderarchive.documents.ingest",
                  "orderarchive.log.minisign", "orderarchive.documents", "difflib", "pypdf"):
        assert heavy not in loaded, heavy
    # verify-proof needs no archive: neither the recipe layer nor SQLite.
    loaded = _modules_after("import orderarchive.proofs")
    assert "orderarchive.archive" not in loaded
    assert "sqlite3" not in loaded


def test_only_pdf_module_imports_pypdf() -> None:
    from pathlib import Path

    src = Path(orderarchive.__file__).parent
    importers = sorted(str(p.relative_to(src)) for p in src.rglob("*.py")
                       if "import pypdf" in p.read_text() or "from pypdf" in p.read_text())
    assert importers == ["documents/pdf.py"]

"""The public API as type checkers see it, and its documentation (issue 13 item 4)."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

import orderarchive
from conftest import STORE_KINDS, text_request
from orderarchive import Archive
from orderarchive.errors import KeyFileError, VerificationError
from orderarchive.log.digest import Digest
from orderarchive.log.note import Signer, VerifierKey
from orderarchive.status import ListedDocument

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "data" / "public_api_usage.py"
REVEALED = ("check_copy", "check_quote", "document_status", "archive.documents")
#: The recipe layer: its public classes and functions are the library's API too.
RECIPE = ("archive", "index", "status", "history", "releaselog", "proofs", "copies", "citing")
#: Modules below the recipe layer whose result types the public functions return.
RESULTS = ("citations.cite",)


def _public_api() -> dict[str, object]:
    """Every public name of the package and the recipe modules, and their public methods."""
    found: dict[str, object] = {
        f"orderarchive.{name}": getattr(orderarchive, name)
        for name in orderarchive.__all__ if not name.startswith("__")
    }
    for module_name in (*RECIPE, *RESULTS):
        module = importlib.import_module(f"orderarchive.{module_name}")
        names = getattr(module, "__all__", None) or [n for n in vars(module)
                                                     if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            if ((inspect.isclass(obj) or inspect.isfunction(obj))
                    and obj.__module__ == module.__name__
                    and not getattr(obj, "_is_protocol", False)):  # a Protocol's members: ...
                found[f"{module.__name__}.{name}"] = obj
    for qualname, obj in list(found.items()):
        if not inspect.isclass(obj):
            continue
        for name, attribute in vars(obj).items():
            if name.startswith("_"):
                continue
            member = attribute
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property):
                member = member.fget
            if inspect.isfunction(member):
                found[f"{qualname}.{name}"] = member
    return found


def test_every_lazy_export_is_imported_for_type_checkers() -> None:
    # orderarchive/__init__.py exports lazily (start-up stays fast); its TYPE_CHECKING block
    # must import each lazy name from the module __getattr__ loads it from, or a type checker
    # sees Any (or the wrong object) where the user's code sees the real one.
    tree = ast.parse(Path(orderarchive.__file__).read_text())
    checked: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.level == 1
                checked.update({alias.name: str(stmt.module) for alias in stmt.names})
    assert checked == orderarchive._LAZY


def _annotations(obj: object) -> dict[str, object]:
    function = obj.__init__ if inspect.isclass(obj) else obj  # type: ignore[misc]
    return dict(getattr(function, "__annotations__", None) or {})


def test_no_any_in_a_public_signature() -> None:
    api = _public_api()
    assert "orderarchive.Archive.index" in api and "orderarchive.copies.compare_text" in api
    with_any = sorted(
        f"{qualname}({name}: {annotation})"
        for qualname, obj in api.items()
        for name, annotation in _annotations(obj).items()
        if re.search(r"\bAny\b", str(annotation))
    )
    assert not with_any, with_any


def test_every_public_class_function_and_method_has_a_docstring() -> None:
    api = _public_api()
    assert "orderarchive.Archive.open" in api and "orderarchive.Archive.documents" in api
    assert "orderarchive.history.HistoryReport" in api
    missing = sorted(q for q, obj in api.items() if not (obj.__doc__ or "").strip())
    assert not missing, missing


def test_mypy_strict_sees_real_types_through_the_lazy_package() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--cache-dir", str(ROOT / ".mypy_cache"), str(SCRIPT)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    ).stdout
    notes = re.findall(r"^.*:(\d+): note: Revealed type is \"(.*)\"$", out, re.MULTILINE)
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert not errors, out
    lines = SCRIPT.read_text().splitlines()
    revealed = {lines[int(n) - 1].strip(): t for n, t in notes}
    for name in REVEALED:
        (call, kind), = [(c, t) for c, t in revealed.items() if f"reveal_type({name}(" in c]
        assert "Any" not in kind, (call, kind)
        assert kind.startswith(("orderarchive.", "tuple[orderarchive.")), (call, kind)
    assert all("Any" not in t for t in revealed.values()), revealed


# -- Archive.documents: each document from its verified entry, with its status ----------------


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_archive_documents_lists_each_with_its_status(
    make_archive: Callable[..., Archive], signer: Signer, verifiers: list[VerifierKey]
) -> None:
    archive = make_archive(3)
    archive.add([text_request(10, relations=(("rescinds", "eo-1"),)),
                 text_request(11, relations=(("amends", "eo-2"),))], signer)
    listed = archive.documents(verifiers)
    assert [d.doc for d in listed] == ["eo-0", "eo-1", "eo-2", "eo-10", "eo-11"]
    assert [d.status for d in listed] == ["in-force", "rescinded", "amended", "in-force",
                                          "in-force"]
    assert [d.released for d in listed] == [True, True, True, False, False]
    first = listed[0]
    assert isinstance(first, ListedDocument) and isinstance(first.sha256, Digest)
    assert first.entry == archive.entry(0) and first.sha256 == Digest.of(text_request(0).data)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.status = "rescinded"  # type: ignore[misc]
    assert first.to_dict() == {
        "seq": 0, "doc": "eo-0", "kind": "executive-order", "title": "Order 0",
        "issuer": "City of Example", "issued": "2026-02-05",
        "sha256": Digest.of(text_request(0).data).hex(), "released": True, "status": "in-force",
    }
    assert [d.doc for d in archive.documents(verifiers, kind="article")] == []


def test_archive_documents_needs_trusted_keys(
    make_archive: Callable[..., Archive], signer: Signer
) -> None:
    archive = make_archive(2)
    with pytest.raises(KeyFileError):
        archive.documents([])
    other = Signer.generate("example.gov/orders")
    with pytest.raises(VerificationError):  # entries signed by another key are not listed
        archive.documents([other.verifier()])


def test_status_does_not_import_the_archive_at_run_time() -> None:
    # Archive.documents imports status inside the method: status must import Archive for
    # types only, or the run-time import graph has a cycle archive <-> status.
    out = subprocess.run(
        [sys.executable, "-c", "import sys, orderarchive.status; "
         "print('orderarchive.archive' in sys.modules)"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "False"


# -- one error tree, defined in errors.py -----------------------------------------------------

#: Where users imported each error before it moved to errors.py: still importable from there.
MOVED_ERRORS = {
    "log.minisign": ["MinisignFormatError"],
    "log.checkpoint": ["OriginMismatchError"],
    "log.merkle": ["TreeRangeError"],
    "log.note": ["InvalidSignatureError", "UnverifiedNoteError"],
    "history": ["StateError", "LogForkedError", "LogRolledBackError"],
    "citations.quote": ["QuoteTooShortError"],
    "citations.cite": ["QuotationMismatchError", "UnreleasedQuotationError", "NoTextLayerError"],
    "citations.brief": ["TooManyQuotationsError"],
    "copies": ["CopyTooLargeError", "CompareTimeoutError"],
    "proofs": ["UnreleasedError", "IndexMismatchError"],
    "archive": ["ArchiveVerificationError"],
    "documents": ["EmptyDocumentError", "UnsupportedDocumentError", "UnicodeDocumentError",
                  "EncryptedDocumentError", "BrokenDocumentError", "DocumentTooLargeError",
                  "DocumentTimeoutError", "ReaderCrashError", "DocumentFileError"],
}


def test_every_error_class_is_defined_in_errors_py() -> None:
    from orderarchive import errors

    src = Path(orderarchive.__file__).parent
    defined_elsewhere = []
    for path in sorted(src.rglob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            # (a private exception used for control flow inside one module never leaves it)
            if (isinstance(node, ast.ClassDef) and node.name.endswith("Error")
                    and not node.name.startswith("_")):
                defined_elsewhere.append(f"{path.relative_to(src)}:{node.name}")
    assert not defined_elsewhere
    for module_name, names in MOVED_ERRORS.items():
        module = importlib.import_module(f"orderarchive.{module_name}")
        for name in names:
            assert getattr(module, name) is getattr(errors, name), (module_name, name)
            assert issubclass(getattr(errors, name), errors.OrderArchiveError)


# -- library errors carry no CLI vocabulary ------------------------------------------------------

_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
#: Other tools' command lines a hint may quote (not orderarchive's options).
_FOREIGN_COMMANDS = ("qpdf --",)


def _strings_raised(tree: ast.AST) -> list[tuple[int, str]]:
    """The string constants in raise statements, ``hint=`` arguments and error classes."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        scope: ast.AST | None = None
        if isinstance(node, ast.Raise):
            scope = node.exc
        elif isinstance(node, ast.keyword) and node.arg == "hint":
            scope = node.value
        elif isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
            scope = node
        if scope is None:
            continue
        for sub in ast.walk(scope):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                found.append((sub.lineno, sub.value))
    return found


def test_library_errors_name_no_command_line_option() -> None:
    src = Path(orderarchive.__file__).parent
    leaks = [
        f"{path.relative_to(src)}:{line}: {text!r}"
        for path in sorted(src.rglob("*.py")) if path.parent.name != "cli"
        for line, text in _strings_raised(ast.parse(path.read_text()))
        if _OPTION.search(text) and not any(c in text for c in _FOREIGN_COMMANDS)
    ]
    assert not leaks, leaks


def test_the_cli_names_the_option_for_a_remedy(tmp_path: Path) -> None:
    from orderarchive.cli._common import hint_for
    from orderarchive.errors import ArchiveNotFoundError, Remedy

    with pytest.raises(ArchiveNotFoundError) as caught:
        Archive.open(tmp_path / "nowhere")
    error = caught.value
    assert error.remedy is Remedy.ARCHIVE and error.hint and "--" not in error.hint
    assert hint_for(error) == "create one with 'orderarchive init' or pass --archive"
    assert all(not _OPTION.search(member.value) for member in Remedy)  # names, not options

"""AES-encrypted PDFs (issue 11 item 11): an owner-password-only file opens without a password,
so it is read, added and checked like any other; AES needs `cryptography`, a declared runtime
dependency (through pypdf's `crypto` extra)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest

from conftest import ORIGIN, need_tool
from orderarchive.documents.pdf import read_pdf
from pdfgen import make_pdf, sample_order

ORDER = sample_order(2)


def encrypt(data: bytes, tmp_path: Path, bits: str) -> bytes:
    """*data* encrypted by stock qpdf: empty user password, owner password "owner"."""
    source, target = tmp_path / "plain.pdf", tmp_path / f"aes-{bits}.pdf"
    source.write_bytes(data)
    aes = ["--use-aes=y"] if bits == "128" else []  # 256 is always AES (AESV3)
    subprocess.run([need_tool("qpdf"), "--encrypt", "", "owner", bits, *aes, "--", str(source),
                    str(target)], check=True, capture_output=True, timeout=120)
    return target.read_bytes()


@pytest.mark.parametrize("bits", ["256", "128"])
def test_an_aes_owner_password_only_pdf_is_read(tmp_path: Path, bits: str) -> None:
    plain = make_pdf(ORDER, title="Specimen Executive Order", author="City of Example")
    locked = encrypt(plain, tmp_path, bits)
    reader = pypdf.PdfReader(tmp_path / f"aes-{bits}.pdf")
    assert reader.is_encrypted
    assert (b"/AESV3" if bits == "256" else b"/AESV2") in locked
    document = read_pdf(locked)
    assert document.text == read_pdf(plain).text
    assert document.metadata.title == "Specimen Executive Order"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orderarchive", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120, env=dict(os.environ), check=False)


def test_an_aes_256_pdf_can_be_added_and_checked(tmp_path: Path) -> None:
    locked = encrypt(make_pdf(ORDER, title="Specimen Executive Order"), tmp_path, "256")
    (tmp_path / "order.pdf").write_bytes(locked)
    assert run("init", "--origin", ORIGIN, cwd=tmp_path).returncode == 0
    made = run("key", "generate", ORIGIN, "--unencrypted", "--secret-key", "k.key",
               cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    added = run("add", "--key", "k.key", "order.pdf", "--id", "eo-1", "--issuer", "City",
                "--issued", "2026-02-05", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "Specimen Executive Order" in added.stdout
    released = run("release", "--key", "k.key", cwd=tmp_path)
    assert released.returncode == 0, released.stderr
    checked = run("check", "order.pdf", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OFFICIAL")
    # The same text re-saved without encryption: the signed text layer came from the AES file.
    plain_copy = tmp_path / "decrypted.pdf"
    subprocess.run([need_tool("qpdf"), "--decrypt", "order.pdf", str(plain_copy)], cwd=tmp_path,
                   check=True, capture_output=True, timeout=120)
    same = run("check", "decrypted.pdf", cwd=tmp_path)
    assert same.returncode == 1, same.stdout + same.stderr  # not the official file
    assert same.stdout.startswith("SAME TEXT"), same.stdout


def test_cryptography_is_a_declared_dependency() -> None:
    import tomllib

    from conftest import REPO

    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    assert any(d.replace(" ", "").startswith(("pypdf[crypto]", "cryptography"))
               for d in project["dependencies"])

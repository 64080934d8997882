"""CLI: quote, cite, cite-check, verify-evidence.

Exit 0 only for a matching quotation, a clean brief or evidence that verifies; every bad input
(missing or unreadable brief, too-short quotation, unknown document, tampered evidence, wrong
key) is a one-line error and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import ORIGIN, ok, one_line_error
from orderarchive import canonical
from orderarchive.cli import cli
from orderarchive.log.note import Signer
from pdfgen import make_pdf
from test_cite import BRIEF, Corpus, build_corpus


class Lawyer:
    """A working directory: the corpus archive, its public key and some briefs."""

    def __init__(self, root: Path, corpus: Corpus) -> None:
        self.root = root
        self.corpus = corpus
        self.archive_path = corpus.archive.path
        self.keys = root / "keys"
        self.keys.mkdir()
        self.vkey = self.keys / "origin.vkey"
        self.vkey.write_text(corpus.signer.verifier().to_string() + "\n")
        self.brief = root / "brief.txt"
        self.brief.write_text(BRIEF)
        self.clean = root / "clean.md"
        self.clean.write_text(
            "# Brief\n\n> The City of Boston shall not use municipal resources to assist federal\n"
            "> agents in the enforcement of civil immigration law.\n\n"
            "And “shall publish a summary of those records every quarter” it says.\n"
        )

    def run(self, *args: str) -> Result:
        base = ["--archive", str(self.archive_path), "--keys", str(self.keys)]
        return CliRunner().invoke(cli, [*base, *args])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus") / "archive",
                        Signer(name=ORIGIN, seed=bytes(range(32))))


@pytest.fixture
def lawyer(tmp_path: Path, corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> Lawyer:
    monkeypatch.chdir(tmp_path)
    return Lawyer(tmp_path, corpus)



# -- quote -------------------------------------------------------------------------------------


def test_quote_exact(lawyer: Lawyer) -> None:
    out = ok(lawyer.run("quote", "shall publish a summary of those records every quarter"))
    first = out.splitlines()[0]
    assert first.startswith("EXACT")
    assert 'eo-2025-7 "Municipal Resources and Civil Immigration Enforcement" (entry 2)' in first
    assert "page 1, paragraph 3, characters" in first
    assert "entry signed by example.gov/orders+" in out  # the --keys directory was used


def test_quote_normalised_across_pages(lawyer: Lawyer) -> None:
    out = ok(lawyer.run("quote", "Each summary shall state the number of requests received"))
    assert out.startswith("NORMALISED")
    assert "pages 1–2, paragraphs 3–4" in out
    assert "after normalising: line-breaks" in out


def test_quote_alterations(lawyer: Lawyer) -> None:
    out = ok(lawyer.run("quote", "[a]ny guidance issued under [Executive Order 2014-3] shall have"))
    assert 'alteration: [a]ny for "any"' in out
    assert 'alteration: [Executive Order 2014-3] for "that order"' in out


def test_quote_misquoted(lawyer: Lawyer) -> None:
    r = lawyer.run("quote", "The City of Boston shall use municipal resources to assist federal")
    assert r.exit_code == 1
    assert r.stdout.startswith("MISQUOTED")
    assert 'removed: left out "not" without an ellipsis (paragraph 2)' in r.stdout
    assert 'the source reads: "The City of Boston shall not use' in r.stdout
    r = lawyer.run("quote", "The Police Commissioner may keep a record of each request")
    assert 'changed: quoted "may" where the source says "shall"' in r.stdout


def test_quote_not_found(lawyer: Lawyer) -> None:
    r = lawyer.run("quote", "Parking meters on Beacon Street shall accept payment by telephone")
    assert r.exit_code == 1
    assert r.stdout.startswith("NOT FOUND  not in the archive")
    r = lawyer.run("quote", "--doc", "eo-2014-3", "shall publish a summary of those records")
    assert r.exit_code == 1 and r.stdout.startswith("NOT FOUND  not in eo-2014-3")


def test_quote_warns_about_standing(lawyer: Lawyer) -> None:
    out = ok(lawyer.run("quote", "City departments may honor civil immigration detainers"))
    assert "warning: eo-2014-3 has been rescinded by eo-2025-7" in out
    r = lawyer.run("quote", "open to the public on the first Saturday of each month")
    assert r.exit_code == 1  # not a plain yes until released (tests/test_quote_unreleased.py)
    assert r.stdout.startswith("EXACT (unreleased) eo-2026-1")
    assert "warning: eo-2026-1 (entry 6) is not yet covered by a signed release" in r.stdout


def test_quote_json(lawyer: Lawyer) -> None:
    r = lawyer.run("--json", "quote", "The Police Commissioner may keep a record of each request")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["status"] == "misquoted" and doc["doc"] == "eo-2025-7"
    assert doc["locator"]["page"] == 1 and doc["differences"][0]["source"] == "shall"
    doc = json.loads(ok(lawyer.run("--json", "quote",
                                   "City departments may honor civil immigration detainers")))
    assert doc["ok"] is True and doc["document"]["status"] == "rescinded"
    assert doc["warnings"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["quote", "the City"], 2, "at least 4 are needed"),
        (["quote", "--doc", "eo-404", "shall publish a summary of those"], 2, "no document"),
        (["quote", "--doc", "eo-2025-9", "shall publish a summary of those"], 2, "no text layer"),
        (["quote", "--trusted-key", "nope.vkey", "shall publish a summary of those"], 2, "nope"),
        (["quote"], 2, "Missing argument"),
    ],
)
def test_quote_bad_input(lawyer: Lawyer, args: list[str], code: int, message: str) -> None:
    if args == ["quote"]:  # click's own usage errors go through main(): run the real program
        r = subprocess.run([sys.executable, "-m", "orderarchive", "quote"], capture_output=True,
                           text=True, check=False)
        assert r.returncode == code and message in r.stderr and "Traceback" not in r.stderr
        return
    assert message in one_line_error(lawyer.run(*args), code)


def test_quote_with_the_wrong_key(lawyer: Lawyer) -> None:
    key = Signer.generate(ORIGIN).verifier().to_string()
    one_line_error(lawyer.run("quote", "--trusted-key", key, "shall publish a summary of those"),
                   1)


def test_quote_json_error(lawyer: Lawyer) -> None:
    r = lawyer.run("--json", "quote", "too short")
    assert r.exit_code == 2
    assert json.loads(r.stdout)["error"]["type"] == "QuoteTooShortError"


# -- cite and verify-evidence ------------------------------------------------------------------


def test_cite_prints_a_citation(lawyer: Lawyer) -> None:
    r = lawyer.run("cite", "eo-2025-7", "--quote", "shall publish a summary of those records")
    out = ok(r)
    sha = lawyer.corpus.archive.entry(2).document.sha256  # type: ignore[union-attr]
    assert out == (
        "“shall publish a summary of those records” City of Boston, Municipal Resources and "
        "Civil Immigration Enforcement, at 1 (Mar. 14, 2025), https://www.boston.gov/"
        f"eo-2025-7.pdf [orderarchive:{ORIGIN}/eo-2025-7@sha256:{sha[:12]}].\n"
    )
    r = lawyer.run("cite", "eo-2014-3")
    assert ok(r).startswith("City of Boston, Honoring Immigration Detainers (June 2, 2014), ")
    assert "warning: eo-2014-3 has been rescinded by eo-2025-7" in r.stderr


def test_cite_writes_evidence_that_verifies(lawyer: Lawyer) -> None:
    r = lawyer.run("cite", "eo-2025-7", "--quote",
                   "Each summary shall state the number of requests received", "-o", "ev.json")
    citation = ok(r).strip()
    assert "at 1–2 (Mar. 14, 2025)" in citation
    assert "wrote ev.json: evidence for eo-2025-7" in r.stderr
    out = ok(lawyer.run("verify-evidence", "ev.json", "--trusted-key", str(lawyer.vkey)))
    assert out.startswith('VERIFIED  ev.json: eo-2025-7 "Municipal Resources')
    assert "entry 2 in release 6 of example.gov/orders" in out
    assert "quotation: normalised (after normalising: line-breaks), characters" in out
    assert f"citation: {citation}" in out
    assert "status in release 6: in force" in out
    doc = json.loads(ok(lawyer.run("--json", "verify-evidence", "ev.json")))
    assert doc["ok"] is True and doc["citation"] == citation and doc["release"] == 6


def test_evidence_needs_only_the_key(lawyer: Lawyer, tmp_path: Path) -> None:
    ok(lawyer.run("cite", "eo-2014-3", "--quote",
                  "City departments may honor civil immigration detainers", "-o", "ev.json"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy("ev.json", elsewhere / "ev.json")
    r = CliRunner().invoke(cli, ["--archive", str(elsewhere / "none"), "verify-evidence",
                                 str(elsewhere / "ev.json"), "--trusted-key", str(lawyer.vkey)])
    out = ok(r)
    assert "status in release 6: rescinded" in out
    assert "eo-2025-7 (entry 2): Municipal Resources" in out


def test_cite_json_and_stdout_evidence(lawyer: Lawyer) -> None:
    doc = json.loads(ok(lawyer.run("--json", "cite", "eo-2025-7", "--page", "2", "-o", "e.json")))
    assert doc["ok"] is True and doc["pin"]["page"] == 2 and doc["evidence"] == "e.json"
    r = lawyer.run("cite", "eo-2025-7", "--page", "2", "-o", "-")
    body = canonical.loads(ok(r).encode()[:-1])
    assert body["format"] == "orderarchive-evidence/v2" and body["quotation"] is None


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["cite", "eo-404"], 2, "no document 'eo-404'"),
        (["cite", "eo-2025-7", "--page", "9"], 2, "no page 9"),
        (["cite", "eo-2025-7", "--page", "0"], 2, "0 is not in the range"),
        (["cite", "eo-2024-5", "--page", "1"], 2, "has no pages"),
        (["cite", "eo-2025-7", "--quote", "the City"], 2, "at least 4"),
        (["cite", "eo-2025-7", "--quote", "The City of Boston shall use municipal resources"],
         1, "misquoted"),
        (["cite", "eo-2025-7", "--quote", "shall publish a summary of those", "--page", "2"],
         1, "on page 1 of eo-2025-7, not on page 2"),
        (["cite", "eo-2026-1", "-o", "x.json"], 2, "not covered by a signed release"),
        (["cite", "eo-2025-9", "-o", "x.json"], 2, "no text layer"),
        (["cite", "eo-2025-7", "-o", "no/such/dir/x.json"], 2, "cannot write"),
    ],
)
def test_cite_bad_input(lawyer: Lawyer, args: list[str], code: int, message: str) -> None:
    if "--page" in args and "0" in args:
        r = subprocess.run([sys.executable, "-m", "orderarchive", "--archive",
                            str(lawyer.archive_path), *args], capture_output=True, text=True,
                           check=False)
        assert r.returncode == code and message in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        return
    assert message in one_line_error(lawyer.run(*args), code)
    assert not Path("x.json").exists()


@pytest.fixture
def evidence(lawyer: Lawyer) -> Path:
    ok(lawyer.run("cite", "eo-2025-7", "--quote",
                  "shall publish a summary of those records every quarter", "-o", "ev.json"))
    return Path("ev.json")


def _tamper(path: Path, edit: str) -> None:
    data = path.read_bytes()
    body = canonical.loads(data[:-1])
    if edit == "quotation":
        body["quotation"]["text"] = body["quotation"]["text"].replace("those", "these")
    elif edit == "locator":
        body["quotation"]["locator"]["end"] += 1
    elif edit == "layer":
        body["text_layer"] = body["text_layer"][:-8] + "AAAAAAA="
    elif edit == "citation":
        body["citation"] = body["citation"].replace("City of Boston", "City of Salem")
    elif edit == "status":
        body["status"]["status"] = "superseded"
    elif edit == "duplicate":
        path.write_bytes(data.replace(b'"doc":', b'"doc":"eo-2014-3","doc":'))
        return
    path.write_bytes(canonical.dumps(body) + b"\n")


@pytest.mark.parametrize(
    ("edit", "code"),
    [("quotation", 1), ("locator", 1), ("layer", (1, 2)), ("citation", 1), ("status", 1),
     ("duplicate", 2)],
)
def test_tampered_evidence(lawyer: Lawyer, evidence: Path, edit: str,
                           code: int | tuple[int, ...]) -> None:
    _tamper(evidence, edit)
    one_line_error(lawyer.run("verify-evidence", str(evidence)), code)


@pytest.mark.parametrize(
    "resave",
    [
        pytest.param(lambda body: json.dumps(body, indent=2) + "\n", id="pretty-printed"),
        pytest.param(lambda body: json.dumps(dict(reversed(body.items()))), id="keys-reordered"),
        pytest.param(lambda body: json.dumps(body, ensure_ascii=False, separators=(" ,", " : "))
                     + "\r\n\n", id="spaces-and-crlf"),
    ],
)
def test_resaved_evidence_still_verifies(
    lawyer: Lawyer, evidence: Path, resave: Callable[[dict[str, Any]], str]
) -> None:
    # Seen 8: a pretty-printed or re-saved file was refused as "not canonical JSON" although
    # every signed part inside it was intact.
    body = json.loads(evidence.read_bytes())
    evidence.write_text(resave(body), encoding="utf-8")
    out = ok(lawyer.run("verify-evidence", str(evidence)))
    assert out.startswith("VERIFIED")


REVIEW_QUOTE = "shall publish a summary of [all] those records every quarter"


def test_quote_needs_review_exits_1(lawyer: Lawyer) -> None:
    r = lawyer.run("quote", REVIEW_QUOTE)
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("REVIEW     eo-2025-7")
    assert "  needs review: a bracketed insertion (the source has no words here): [all]" in lines
    assert any(line.startswith('  the source reads: "shall publish') for line in lines)
    doc = json.loads(lawyer.run("--json", "quote", REVIEW_QUOTE).stdout)
    assert doc["ok"] is False and doc["status"] == "needs-review"
    assert doc["reviews"] == ["a bracketed insertion (the source has no words here): [all]"]


def test_quote_altered_exits_0(lawyer: Lawyer) -> None:
    out = ok(lawyer.run("quote", "[s]hall publish a summary of those records every quarter"))
    assert out.startswith("ALTERED    eo-2025-7")
    assert '  alteration: [s]hall for "shall"' in out


def test_quote_names_a_reversal(lawyer: Lawyer) -> None:
    r = lawyer.run("quote", "The City of Boston shall [always] use municipal resources")
    assert r.exit_code == 1
    assert r.stdout.startswith("MISQUOTED  eo-2025-7")
    assert '    reverses the source: leaves out "not"\n' in r.stdout


def test_cite_refuses_review_without_accept_review(lawyer: Lawyer) -> None:
    message = one_line_error(lawyer.run("cite", "eo-2025-7", "--quote", REVIEW_QUOTE,
                                        "-o", "ev.json"), 1)
    assert "needs-review in eo-2025-7" in message and "--accept-review" in message
    assert not Path("ev.json").exists()
    one_line_error(lawyer.run("cite", "eo-2025-7", "--quote",
                              "shall not publish a summary of those records", "-o", "ev.json"), 1)
    assert not Path("ev.json").exists()


def test_evidence_accepted_for_review_verifies_but_exits_1(lawyer: Lawyer) -> None:
    r = lawyer.run("cite", "eo-2025-7", "--quote", REVIEW_QUOTE, "--accept-review",
                   "-o", "ev.json")
    assert ok(r).startswith("“shall publish a summary of [all] those records every quarter”")
    assert "accepted for review: REVIEW" in r.stderr
    assert json.loads(Path("ev.json").read_bytes())["quotation"]["status"] == "needs-review"
    r = lawyer.run("verify-evidence", "ev.json")
    assert r.exit_code == 1
    assert r.stdout.startswith("VERIFIED  ev.json: eo-2025-7")
    assert ("  quotation: NEEDS-REVIEW (cited with --accept-review: NOT an accepted quotation)"
            in r.stdout)
    assert "  needs review: a bracketed insertion (the source has no words here): [all]" in (
        r.stdout
    )
    doc = json.loads(lawyer.run("--json", "verify-evidence", "ev.json").stdout)
    assert doc["ok"] is False and doc["verified"] is True and doc["accepted"] is False
    assert doc["quotation"]["status"] == "needs-review"


def test_verify_evidence_bad_input(lawyer: Lawyer, evidence: Path, tmp_path: Path) -> None:
    wrong = Signer.generate(ORIGIN).verifier().to_string()
    one_line_error(lawyer.run("verify-evidence", str(evidence), "--trusted-key", wrong), 1)
    one_line_error(lawyer.run("verify-evidence", str(tmp_path / "missing.json")), 2)
    one_line_error(lawyer.run("verify-evidence", str(tmp_path)), 2)
    shutil.rmtree(lawyer.keys)
    assert "no trusted keys" in one_line_error(lawyer.run("verify-evidence", str(evidence)), 2)
    proof = tmp_path / "p.tlog-proof"
    proof.write_bytes(b"c2sp.org/tlog-proof@v1\nindex 0\n\n")
    one_line_error(lawyer.run("verify-evidence", str(proof), "--trusted-key", wrong), 2)


# -- cite-check --------------------------------------------------------------------------------


def test_cite_check_a_brief_with_a_mix(lawyer: Lawyer) -> None:
    r = lawyer.run("cite-check", str(lawyer.brief))
    assert r.exit_code == 1
    out = r.stdout
    assert out.startswith('line 3: "The City of Boston shall not use municipal resources')
    assert "  NORMALISED eo-2025-7" in out
    assert "  EXACT      eo-2014-3" in out
    assert '    changed: quoted "may" where the source says "shall"' in out
    assert '    removed: left out "not" without an ellipsis' in out
    assert "  NOT FOUND  not in the archive" in out
    assert "  TOO SHORT  quotation has 3 words" in out
    assert "    warning: eo-2014-3 has been rescinded" in out
    # one fact per line, even for a splice whose omitted text spans paragraphs
    assert all(line.startswith(("line ", "  ")) for line in out.splitlines())
    assert r.stderr.strip() == (
        "13 quotation(s): 1 exact, 4 normalised, 2 altered, 0 needs review, 4 misquoted, "
        "1 not found, 0 title(s), 1 too short to check"
    )


def test_cite_check_a_clean_brief(lawyer: Lawyer) -> None:
    out = ok(lawyer.run("cite-check", str(lawyer.clean)))
    assert out.splitlines()[-1] == (
        "2 quotation(s): 1 exact, 1 normalised, 0 altered, 0 needs review, 0 misquoted, "
        "0 not found, 0 title(s), 0 too short to check"
    )


def test_cite_check_a_pdf_brief_with_doc(lawyer: Lawyer) -> None:
    pdf = lawyer.root / "brief.pdf"
    make_pdf(
        [["The order says \"shall publish a summary of those records every quarter on the "
          "City's website\" and"],
         ["also that \"City departments may honor civil immigration detainers\" once."]],
        path=pdf,
    )
    r = lawyer.run("cite-check", str(pdf), "--doc", "eo-2025-7")
    assert r.exit_code == 1
    assert 'page 1, line 1: "shall publish' in r.stdout
    assert "  NOT FOUND  not in eo-2025-7" in r.stdout


def test_cite_check_json(lawyer: Lawyer) -> None:
    r = lawyer.run("--json", "cite-check", str(lawyer.brief))
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["brief"] == "brief.txt"
    assert doc["totals"] == {"exact": 1, "normalised": 4, "altered": 2, "needs-review": 0,
                             "misquoted": 4, "not-found": 1, "title": 0, "too-short": 1}
    first = doc["quotations"][0]
    assert (first["status"], first["doc"], first["brief_line"], first["kind"]) == (
        "normalised", "eo-2025-7", 3, "inline")
    assert first["locator"]["page"] == 1
    assert json.loads(ok(lawyer.run("--json", "cite-check", str(lawyer.clean))))["ok"] is True


@pytest.mark.parametrize("case", ["missing", "directory", "png", "latin-1", "broken-pdf",
                                  "empty", "unknown-doc"])
def test_cite_check_bad_input(lawyer: Lawyer, case: str) -> None:
    path = lawyer.root / "bad"
    args = ["cite-check", str(path)]
    if case == "directory":
        path.mkdir()
    elif case == "png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    elif case == "latin-1":
        path.write_bytes("“Café society shall not be quoted here”".encode("cp1252"))
    elif case == "broken-pdf":
        path.write_bytes(b"%PDF-1.7\n1 0 obj <<\n")
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "unknown-doc":
        args = ["cite-check", str(lawyer.brief), "--doc", "eo-404"]
    one_line_error(lawyer.run(*args), 2)

"""The benchmark harness in its quick mode, so that it cannot rot (issue 6).

It measures nothing here: a 30-document corpus and a 2,000-entry synthetic archive only show
that every step runs and that the table of bars is written. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_quick_run_writes_its_table(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    markdown = tmp_path / "benchmarks.md"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out),
         "--markdown", str(markdown)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "bars:\n" in result.stdout and "(target ≤ 1.15×)" in result.stdout
    text = markdown.read_text()
    assert text.count("<!-- results:begin -->") == 1 and "<!-- results:end -->" in text
    assert "| bar | target | measured | | how |" in text
    for bar in ("`bagit.py --validate`", "`openssl dgst -sha256`", "`minisign -S`",
                "bare pypdf", "`check` of a copy at 2,000 entries vs at 200", "`verify-proof`",
                "peak memory", "scales linearly", "does not import pypdf",
                "`add` peak RSS, 1,000 plain-text documents in one call",
                "`add` peak RSS, 1,000 ÷ 100 documents",
                "second `verify` after 20 entries added to 2,000 vs full verify",
                "in-process work of check, prove, verify-proof",
                "`add` per document vs `minisign -S` once per file, plain text",
                "`add` per document vs `minisign -S` once per file, HTML",
                "first search after add"):
        assert bar in text, bar
    for command in ("orderarchive --archive A verify --full --trusted-key K", "orderarchive --help",
                    "python -m benchmarks.tasks bare-pypdf pdf.list"):
        assert f"`{command}`" in text, command
    results = json.loads((out / "results.json").read_text())
    assert results["settings"] == {"n": 30, "synthetic": 2000, "rounds": 1,
                                   "seed": 20260205, "quick": True, "small": 200,
                                   "scale_docs": 1000, "scale_entries": 2000, "skip": []}
    # Every bar row says PASS, MISS, or why there is no number; never a number made up.
    rows = [line for line in text.splitlines() if line.startswith("| ") and (
        "**PASS**" in line or "**MISS**" in line or "not supported" in line)]
    assert len(rows) >= 15
    assert results["facts"]["reverify"]["supports_full"] == (
        "--full" in subprocess.run([sys.executable, "-m", "orderarchive", "verify", "--help"],
                                   capture_output=True, text=True, check=True).stdout)
    assert [s["entries"] for s in results["scaling"]] == [500, 1000, 1500, 2000]
    assert results["imports_pypdf"] == {"help": False, "check": False}
    # The prose around the generated block is kept when the file is rewritten.
    markdown.write_text("# Title\n\nprose\n\n" + text.split("\n", 2)[2] + "\nafter\n")
    subprocess.run([sys.executable, "-c", "import json, sys; from pathlib import Path; "
                    "from benchmarks import report; "
                    "report.write(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()))",
                    str(markdown), str(out / "results.json")],
                   cwd=REPO, env=env, check=True, timeout=60)
    rewritten = markdown.read_text()
    assert rewritten.startswith("# Title\n\nprose\n") and rewritten.endswith("after\n")
    assert rewritten.count("| bar | target |") == 1


def test_the_fastadd_comparison_runs(tmp_path: Path) -> None:
    # Issue 15's bar on its own (no timing asserted: the harness must keep working).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.fastadd", "--n", "3", "--rounds", "1",
         "--out", str(tmp_path / "out")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for key in ("add-text", "add-html", "first-search-text", "eager-index-html"):
        assert f"\n{key} " in result.stdout, key


def test_verify_bars_harness_runs_and_reports_ratios(tmp_path: Path) -> None:
    """benchmarks/verifybars.py (issue 15, the full-verify bars) on a 12-document corpus:
    every command runs and succeeds (a failing verify would stop it) and the ratios the bars
    are stated in are printed. No timing is asserted."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    argv = [sys.executable, "-m", "benchmarks.verifybars", "--n", "12", "--rounds", "1",
            "--out", str(tmp_path / "vb")]
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["documents"] == 12 and doc["rounds"] == 1
    assert doc["verify"]["seconds"] > 0 and doc["verify"]["cpu_seconds"] > 0
    for name in ("bagit", "openssl"):
        if name in doc:  # a tool that is not installed is reported, not an error
            assert doc[f"ratio_{name}"]["wall"] > 0
            assert f"verify --full ÷ {name}:" in result.stdout
    # --reuse times the archive the first run built, without building it again.
    again = subprocess.run([*argv, "--reuse"], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "added in" not in again.stdout and "added in" in result.stdout

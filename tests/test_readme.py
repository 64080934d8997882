"""The README's commands, run as written (issue: a newcomer's first ten minutes).

Shell blocks run line by line in bash, in a scratch copy of the repository's sample files,
with the virtual environment's ``orderarchive`` on PATH; a trailing ``# exit N`` comment gives
the expected exit status (0 otherwise). ``/tmp/`` paths are redirected into the test's own
temporary directory. The two fresh-machine commands are checked against .ci/run and their
orderarchive steps are run here (creating a virtual environment inside a test would only
repeat what CI does around the whole suite).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.DOTALL)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    work.mkdir()
    for name in ("archive", "keys", "docs"):
        shutil.copytree(REPO / name, work / name,
                        ignore=shutil.ignore_patterns("index.sqlite*", "lock", "index.lock"))
    return work


def run_shell(script_lines: list[str], cwd: Path, tmp: Path) -> None:
    checks: list[str] = []
    for raw in script_lines:
        line = raw.replace("/tmp/", f"{tmp}/")  # noqa: S108 (README paths, redirected)
        expected = 0
        m = re.search(r"#\s*exit (\d+)", line)
        if m:
            expected = int(m.group(1))
        command = line.split("   #")[0].strip() if "   #" in line else line.strip()
        if not command or command.startswith("#"):
            continue
        checks.append(
            f"{command}\nrc=$?\nif [ $rc -ne {expected} ]; then "
            f"echo {shlex.quote('README command failed: ' + command)} \"(exit $rc)\" >&2; "
            "exit 99; fi"
        )
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    result = subprocess.run(["bash", "-c", "\n".join(checks)], cwd=cwd, env=env, text=True,
                            capture_output=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr


def test_fresh_machine_commands_match_ci() -> None:
    main, tests = blocks("sh")[:2]
    ci = (REPO / ".ci" / "run").read_text()
    assert tests.strip() in ci, "the README's test command must be what .ci/run runs"
    assert main.strip().startswith("python3 -m venv .venv && .venv/bin/pip install -q -e . &&")


def test_main_job_runs(scratch: Path, tmp_path: Path) -> None:
    main = blocks("sh")[0].strip()
    steps = [s.strip() for s in main.split("&&")]
    steps = [s.replace(".venv/bin/", "") for s in steps if s.startswith(".venv/bin/orderarchive")]
    assert len(steps) == 3
    run_shell(steps, scratch, tmp_path)


def test_main_job_runs_from_a_subdirectory(scratch: Path, tmp_path: Path) -> None:
    """The same three commands from docs/sample (file paths made relative to it): the archive
    and its trusted keys are found upwards, as git finds a repository (issue 14, item 3)."""
    main = blocks("sh")[0].strip()
    steps = [s.strip().replace(".venv/bin/", "").replace("docs/sample/", "")
             for s in main.split("&&") if s.strip().startswith(".venv/bin/orderarchive")]
    run_shell(steps, scratch / "docs" / "sample", tmp_path)


def test_walkthroughs_run(scratch: Path, tmp_path: Path) -> None:
    shell = blocks("sh")[2:]
    assert len(shell) >= 5
    lines: list[str] = []
    for block in shell:
        joined = block.replace("\\\n", " ")
        lines += [ln for ln in joined.splitlines() if not ln.startswith(". .venv/bin/activate")]
    run_shell(lines, scratch, tmp_path)


def test_python_example_runs(scratch: Path) -> None:
    (code,) = blocks("python")
    result = subprocess.run([sys.executable, "-c", code], cwd=scratch, text=True,
                            capture_output=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "4 entries, released up to 4"
    assert out[1] == "official boston-eo-2026-02-05-specimen"
    assert out[2] == "misquoted ['escalation']"

"""A fresh clone's tests need nothing outside the clone (issue 14 item 1), and the
interoperability tests skip, or under ORDERARCHIVE_REQUIRE_TOOLS=1 fail, without their tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, REQUIRE_TOOLS_ENV, need_tool


def test_a_fresh_clone_collects_every_test_with_nothing_beside_it(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout (or git is not installed): nothing to clone")
    empty = tmp_path / "empty"
    empty.mkdir()
    clone = empty / "orderarchive"
    # The committed HEAD only: untracked files and a sibling shared/ are not there.
    subprocess.run([git, "clone", "-q", "--no-hardlinks", str(REPO), str(clone)],
                   check=True, capture_output=True, timeout=300)
    assert sorted(p.name for p in empty.iterdir()) == ["orderarchive"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(clone / "src")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    collected = [line for line in r.stdout.splitlines() if "::" in line]
    assert any(line.startswith("tests/test_merkle.py::") for line in collected)
    assert any(line.startswith("tests/test_note.py::") for line in collected)
    # The clone's own tests ran from the clone's sources, not this checkout's.
    assert str(REPO) not in r.stdout + r.stderr


def test_no_test_names_a_path_outside_the_repository() -> None:
    for source in sorted((REPO / "tests").glob("*.py")):
        text = source.read_text("utf-8")
        for needle in ('"shared"', "/shared/", "/work/", "parents[2]"):
            assert needle not in text or source.name == Path(__file__).name, (source, needle)


def test_a_missing_tool_skips_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(REQUIRE_TOOLS_ENV, raising=False)
    for tool, install in (("minisign", "apt-get install minisign"),
                          ("qpdf", "apt-get install qpdf"),
                          ("go", "apt-get install golang-go golang-golang-x-mod-dev")):
        with pytest.raises(pytest.skip.Exception, match=f"not installed \\({install}\\)"):
            need_tool(tool)


def test_a_missing_tool_fails_when_tools_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv(REQUIRE_TOOLS_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="a missing tool is a failure"):
        need_tool("qpdf")


def test_ci_requires_the_tools() -> None:
    script = (REPO / ".ci" / "run").read_text("utf-8")
    assert f"export {REQUIRE_TOOLS_ENV}=1" in script

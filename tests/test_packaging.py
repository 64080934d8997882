"""Packaging (issue 14, item 11): the Apache-2.0 LICENSE in the repository, the wheel and the
sdist; metadata that describes the project; README links that still say where they point when
the README is rendered away from the repository (PyPI shows it without the docs/ files)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def test_license_file_is_the_full_apache_2_text() -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX" in text
    assert len(text) > 10_000
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"  # PEP 639 SPDX expression
    assert project["license-files"] == ["LICENSE"]
    # PEP 639: a license expression replaces the deprecated License :: classifiers.
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    assert project["keywords"] and "Typing :: Typed" in project["classifiers"]


def test_readme_links_say_their_path_and_point_at_shipped_files() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = LINK.findall(readme)
    assert links
    for text, target in links:
        if target.startswith(("http://", "https://", "#")):
            continue
        # Rendered outside the repository the link is dead, so its text must name the path.
        assert target in text, (text, target)
        assert (REPO / target).is_file(), target


def _build(kind: str, out: Path, tmp_path: Path) -> Path:
    """Build with setuptools' PEP 517 backend directly: offline, no pip, no isolation."""
    src = tmp_path / "src-tree"
    src.mkdir(exist_ok=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy2(REPO / name, src / name)
    skip = shutil.ignore_patterns("*.egg-info", "__pycache__")
    shutil.copytree(REPO / "src", src / "src", ignore=skip, dirs_exist_ok=True)
    shutil.copytree(REPO / "docs", src / "docs", ignore=skip, dirs_exist_ok=True)
    code = (
        "import sys; from setuptools import build_meta as b; "
        f"print(b.build_{kind}(sys.argv[1]))"
    )
    r = subprocess.run([sys.executable, "-c", code, str(out)], cwd=src, capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    return out / r.stdout.strip().splitlines()[-1]


@pytest.fixture
def setuptools_77() -> None:
    import setuptools

    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} < 77 (the test extra requires >= 77)")


@pytest.mark.usefixtures("setuptools_77")
def test_wheel_and_sdist_carry_the_license_and_metadata(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = _build("wheel", dist, tmp_path)
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        assert z.read(f"{info}/licenses/LICENSE") == (REPO / "LICENSE").read_bytes()
        meta = z.read(f"{info}/METADATA").decode("utf-8")
    assert "License-Expression: Apache-2.0" in meta
    assert "License-File: LICENSE" in meta
    assert "Description-Content-Type: text/markdown" in meta
    assert "Classifier: Topic :: System :: Archiving" in meta and "Keywords:" in meta
    assert "# orderarchive" in meta  # the README is the long description
    assert "orderarchive/py.typed" in names
    # the published site's own files (site.py reads them from the package)
    for asset in ("verify.js", "search.js", "style.css"):
        assert f"orderarchive/site_assets/{asset}" in names, asset
    sdist = _build("sdist", dist, tmp_path)
    with tarfile.open(sdist) as t:
        members = {m.name.split("/", 1)[1] for m in t.getmembers() if "/" in m.name}
    assert "LICENSE" in members
    for _, target in LINK.findall((REPO / "README.md").read_text(encoding="utf-8")):
        if not target.startswith(("http://", "https://", "#")):
            assert target in members, target

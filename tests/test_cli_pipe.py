"""A reader that closes standard output early (`orderarchive verify | head -1`) is not a
failed verification: the CLI exits as a process killed by SIGPIPE does, without a message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO

SIGPIPE_EXIT = 128 + 13


@pytest.mark.parametrize("args", [["list"], ["verify"], ["verify", "--json"], ["--help"]])
def test_a_closed_stdout_is_not_a_failed_verdict(args: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: every write fails (EPIPE)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "orderarchive", "--archive", str(REPO / "archive"),
             "--keys", str(REPO / "keys"), *args],
            stdout=write, stderr=subprocess.PIPE, check=False, timeout=120)
    finally:
        os.close(write)
    assert done.returncode == SIGPIPE_EXIT
    assert done.stderr == b""

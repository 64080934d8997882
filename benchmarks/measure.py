"""Running commands: wall time, CPU time and peak memory of a whole process tree.

Every measured command is a separate process, as a user runs it. Wall time is taken around
the process; CPU time is the process's and its reaped descendants' (``wait4``); peak memory
is the largest sum of the resident set sizes of the process and all its descendants, sampled
every 5 ms (every 25 ms after the first second) from /proc (Linux) once the process has
started its program. Summing RSS counts
pages shared after ``fork`` once per process, so the figure is an upper bound; a process that
lives less than 5 ms may show no figure at all.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_INTERVAL = 0.005


@dataclass
class Sample:
    seconds: float
    cpu_seconds: float
    peak_bytes: int
    returncode: int
    stdout: str = ""


@dataclass
class Series:
    """The samples of one command, and how to show it."""

    label: str
    command: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def cpu_median(self) -> float:
        return statistics.median(s.cpu_seconds for s in self.samples)

    @property
    def peak(self) -> int:
        return max(s.peak_bytes for s in self.samples)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


_OWN_CMDLINE = _cmdline(os.getpid())


def tree_rss(pid: int) -> int:
    total = 0
    pending = [pid]
    seen: set[int] = set()
    while pending:
        p = pending.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss(p)
        pending.extend(_children(p))
    return total


def run(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    cpus: set[int] | None = None,
    capture: bool = False,
    check: bool = True,
) -> Sample:
    """Run *argv* once and measure it (on the CPUs *cpus*, if given)."""
    preexec: Callable[[], None] | None = None
    if cpus is not None:
        chosen = set(cpus)

        def preexec() -> None:
            os.sched_setaffinity(0, chosen)

    peak = [0]
    done = threading.Event()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out if capture else subprocess.DEVNULL,
            stderr=err,
            preexec_fn=preexec,  # noqa: PLW1509 (only sched_setaffinity: no locks taken)
        )

        def sample() -> None:
            started = False
            while not done.is_set():
                # Until the child has exec'd it is a copy of this process (and its RSS ours).
                started = started or _cmdline(proc.pid) not in (_OWN_CMDLINE, b"")
                if started:
                    peak[0] = max(peak[0], tree_rss(proc.pid))
                # Often at first, then less: the sampler shares the CPUs it measures.
                slow = time.perf_counter() - start > 1.0
                done.wait(_INTERVAL * 5 if slow else _INTERVAL)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4: the exit status with the CPU time of the process and of the descendants it
        # reaped. (Its ru_maxrss is not used: it includes this process's RSS at the fork.)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv[:6]))} ... exited with {proc.returncode}: {stderr[-2000:]}"
        )
    return Sample(
        seconds=elapsed,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_bytes=peak[0],
        returncode=proc.returncode,
        stdout=stdout,
    )


def rounds(
    tasks: dict[str, Callable[[], Sample]],
    series: dict[str, Series],
    count: int,
    *,
    before: Callable[[str], None] | None = None,
    warmup: bool = True,
    log: Callable[[str], None] = print,
) -> None:
    """Run *tasks* round-robin (A B C A B C ...) *count* times, after one untimed round."""
    order = list(tasks)
    if warmup:
        for name in order:
            if before:
                before(name)
            tasks[name]()
    for r in range(count):
        for name in order:
            if before:
                before(name)
            result = tasks[name]()
            series[name].samples.append(result)
            log(f"  round {r + 1}/{count} {name}: {result.seconds:.3f} s, "
                f"{result.peak_bytes / 2**20:.0f} MiB")

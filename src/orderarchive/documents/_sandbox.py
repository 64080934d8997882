"""Bounded execution: run document readers in worker processes with time and memory limits.

Untrusted documents reach parsers that can be made to run for minutes (pypdf's text extraction
is super-linear in the length of a content stream) or to allocate gigabytes (decompression
bombs: a few kilobytes of FlateDecode that inflate without end). pypdf caps decompressed
streams itself; this module is the second, parser-independent wall: every job runs in a
worker process whose address space is capped with ``setrlimit(RLIMIT_AS)`` and which is
killed when its wall-clock deadline passes. A worker that dies, times out or runs out of
memory is replaced; the others carry on.

Workers are persistent: each is a fresh interpreter (``python -I``, started once, with pypdf
imported) serving jobs over a socket pair, so a document costs one pickle each way rather than
an interpreter start-up. They are plain subprocesses rather than ``multiprocessing`` children
so that no caller needs an ``if __name__ == "__main__"`` guard (``spawn`` and ``forkserver``
re-import the main module in every child) and no fork server's global state is shared.
POSIX only (socket pairs passed by descriptor, ``resource``).

Replies are unpickled with an allowlist (orderarchive's attrs value classes and error
classes) and a size cap: a worker compromised through a parser bug cannot make the parent
run code or allocate without bound.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import io
import json
import logging
import math
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import attrs

from ..errors import DocumentError, OrderArchiveError
from ._base import DocumentTimeoutError, DocumentTooLargeError, ReaderCrashError

if sys.platform != "win32":
    import resource

T = TypeVar("T")

# Imported by each worker before it says it is ready. Not pypdf: the first PDF a worker reads
# imports it (0.1 s of CPU and 0.2 s of wall time a worker), which a batch of HTML articles or
# plain text, waiting for every worker to be ready, would otherwise pay for nothing.
_PRELOAD = ("orderarchive.documents", "orderarchive.documents.pdf", "orderarchive.documents.html")
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from orderarchive.documents._sandbox import worker_main; worker_main(int(sys.argv[2]))"
)
_READY = b"ready"
_HEADER = struct.Struct("!Q")
_START_SECONDS = 60.0  # a cold interpreter on a loaded CI machine can be slow
_STOP_SECONDS = 2.0
# Jobs up to this size are queued behind a running one. Larger ones wait for an idle worker:
# both sides writing more than a socket buffer holds at once would deadlock.
_PIPELINE = 64 * 1024
# A job that fresh workers keep refusing (each ends before it can be sent) fails after this
# many tries rather than starting workers forever.
_SEND_ATTEMPTS = 3


def _send(sock: socket.socket, payload: bytes) -> None:
    # One write, not two: a separate header would wake the peer twice per message.
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _recv(sock: socket.socket, limit: int) -> bytearray:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > limit:
        raise EOFError(f"message of {size} bytes is over the limit of {limit}")
    return _recv_exact(sock, size)


def _recv_exact(sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise EOFError("connection closed")
        got += n
    return buffer


# -- the worker side ---------------------------------------------------------------------------


def worker_main(fd: int) -> None:
    """A worker's main loop: one job in, one reply out, until the parent closes the socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    warnings.simplefilter("ignore")
    # Nothing a reader logs may reach the terminal through logging's last resort.
    logging.getLogger().addHandler(logging.NullHandler())
    for name in _PRELOAD:
        importlib.import_module(name)
    sock = socket.socket(fileno=fd)
    try:
        _send(sock, _READY)
    except OSError:  # the parent is gone (e.g. Ctrl-C): leave quietly, no traceback
        return
    memory_limit: int | None = None
    while True:
        try:
            job = _recv(sock, sys.maxsize)
        except (EOFError, OSError):
            return
        try:
            fn, args, memory_bytes, timeout = pickle.loads(job)  # noqa: S301 (from our parent)
        except Exception as e:  # e.g. fn's module does not import here
            reply: tuple[Any, ...] = ("crash", f"cannot load the job: {e!r}", False)
        else:
            if memory_bytes != memory_limit:
                _limit_memory(memory_bytes)
                memory_limit = memory_bytes
            _limit_cpu(timeout)
            reply = _call(fn, args, memory_bytes)
        del job
        try:
            payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # includes MemoryError: reported, not raised
            payload = pickle.dumps(("crash", f"cannot send the result: {e!r}", True))
        try:
            _send(sock, payload)
        except OSError:
            return
        if reply[2]:
            return  # retire: after a MemoryError the heap is not worth trusting


def _call(fn: Callable[..., Any], args: tuple[Any, ...], memory_bytes: int) -> tuple[Any, ...]:
    """(status, value, retire) for one job."""
    try:
        return ("ok", fn(*args), False)
    except MemoryError:
        error = DocumentTooLargeError(
            f"reading the document needs more than the memory limit of {memory_bytes} bytes"
        )
        return ("error", error, True)
    except DocumentTooLargeError as e:
        return ("error", e, True)
    except OrderArchiveError as e:
        return ("error", e, False)
    except Exception as e:  # a reader bug: reported as ReaderCrashError
        return ("crash", f"{type(e).__name__}: {e}", True)


def _limit_cpu(timeout: float) -> None:
    """A CPU-time backstop for the parent's wall-clock deadline (SIGXCPU ends the process).

    The parent kills a worker whose job overruns; a worker orphaned by a parent that was
    itself killed has no one to do that, and must not spin on a hostile document forever.
    """
    if sys.platform == "win32":
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + timeout) + 2
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = soft if hard == resource.RLIM_INFINITY else min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _limit_memory(memory_bytes: int) -> None:
    if sys.platform == "win32":  # no rlimits; the timeout still applies
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# -- the parent side ---------------------------------------------------------------------------

_SAFE_BUILTINS = frozenset({"set", "frozenset", "bytearray", "complex", "range", "slice"})


_ALLOWED: dict[tuple[str, str], Any] = {}  # classes already allowed: looked up once


class _ReplyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is not None:
            return allowed
        if module == "builtins" and name in _SAFE_BUILTINS:
            found = super().find_class(module, name)
        elif module.startswith("orderarchive.") and "." not in name:
            found = super().find_class(module, name)
            if not (isinstance(found, type) and (
                attrs.has(found) or issubclass(found, OrderArchiveError)
            )):
                raise pickle.UnpicklingError(f"a reader reply may not contain {module}.{name}")
        else:
            raise pickle.UnpicklingError(f"a reader reply may not contain {module}.{name}")
        _ALLOWED[(module, name)] = found
        return found


class _Worker:
    """One worker process and the parent's end of its socket pair."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, json.dumps(sys.path), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.ready = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self, deadline: float, limit: int) -> bytearray:
        """The next message; TimeoutError at *deadline*, EOFError if the worker is gone."""
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            return _recv(self.sock, limit)
        finally:
            self.sock.settimeout(None)

    def stop(self, *, kill: bool) -> int | None:
        """End the worker (politely by closing its socket, or with SIGKILL); its exit code."""
        if kill:
            self.process.kill()
        self.sock.close()
        try:
            return self.process.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


class Pool:
    """Persistent worker processes running jobs under a timeout and a memory limit."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self.pid = os.getpid()

    def start(self, workers: int | None = None) -> None:
        """Start workers now (without waiting), so their start-up overlaps other work."""
        with self._lock:
            self._spawn(_width(workers, sys.maxsize))

    def run(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        *,
        timeout: float,
        memory_bytes: int,
    ) -> T:
        """``fn(*args)`` in a worker; raises what it raised or a sandbox error."""
        (result,) = self.map(fn, [args], workers=1, timeout=timeout, memory_bytes=memory_bytes)
        if isinstance(result, DocumentError):
            raise result
        return result

    def map(
        self,
        fn: Callable[..., T],
        argsets: Sequence[tuple[Any, ...]],
        *,
        workers: int | None = None,
        timeout: float,
        memory_bytes: int,
    ) -> list[T | DocumentError]:
        """``fn(*args)`` for each of *argsets* on up to *workers* processes, results in order.

        ``fn`` must be a module-level function (it is pickled by name). Each result is the
        return value or the :class:`DocumentError` raised: ``fn``'s own,
        :class:`DocumentTimeoutError`, :class:`DocumentTooLargeError` (memory) or
        :class:`ReaderCrashError`. Raises :class:`ReaderCrashError` only if no worker starts.

        Each worker holds up to two jobs: while it reads one, the next small one waits in its
        socket, so it never idles while this process wakes up to collect a reply (on virtual
        machines a cross-CPU wake-up costs a good fraction of a millisecond). A job's deadline
        runs from when the worker can start it.
        """
        if not argsets:
            return []
        width = _width(workers, len(argsets))
        with self._lock:
            self._spawn(width)
            self._await_ready()
            return _Batch(
                self, fn, argsets, width=width, timeout=timeout, memory_bytes=memory_bytes
            ).run()

    def _spawn(self, count: int) -> None:
        while len(self._idle) < count:
            try:
                self._idle.append(_Worker())
            except OSError as e:
                raise ReaderCrashError(f"cannot start a reader process: {e}") from e

    def _await_ready(self) -> None:
        """Wait for every idle worker to finish starting; drop those that fail to."""
        deadline = time.monotonic() + _START_SECONDS
        starting = [w for w in self._idle if not w.ready]
        while starting:
            got = _wait(starting, deadline - time.monotonic())
            if not got:
                break
            for worker in got:
                starting.remove(worker)
                with contextlib.suppress(EOFError, OSError):
                    worker.ready = worker.receive(deadline, len(_READY)) == _READY
        for worker in [w for w in self._idle if not w.ready]:
            self._idle.remove(worker)
            code = worker.stop(kill=True)
            if not self._idle:
                raise ReaderCrashError(
                    f"a reader process failed to start ({_describe_exit(code)})",
                    hint=f"check that {sys.executable} -c "
                    "'import orderarchive.documents.pdf' works",
                )

    def _checkout(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.ready and worker.process.poll() is None:
                return worker
            worker.stop(kill=True)
        self._spawn(1)
        self._await_ready()
        return self._idle.pop()

    def _collect(
        self, worker: _Worker, deadline: float, timeout: float, limit: int
    ) -> tuple[Any, bool]:
        """The result of *worker*'s oldest job, and whether the worker can take more."""
        try:
            payload = worker.receive(deadline, limit)
        except TimeoutError:  # the reply started but did not finish in time
            return _timed_out(timeout), False
        except (EOFError, OSError):
            code = worker.stop(kill=True)
            return ReaderCrashError(
                f"the reader process died ({_describe_exit(code)})",
                hint="the document may be malformed or need more memory than the limit",
            ), False
        try:
            status, value, retire = _ReplyUnpickler(io.BytesIO(payload)).load()
        except Exception as e:  # a hostile or garbled reply
            return ReaderCrashError(f"the reader process sent an unreadable reply: {e}"), False
        if status == "ok" or (status == "error" and isinstance(value, DocumentError)):
            return value, not retire
        return ReaderCrashError(f"the reader failed: {value}"), False

    def close(self) -> None:
        """Stop every idle worker (atexit does this for the shared pool)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop(kill=False)


class _Batch(Generic[T]):
    """One :meth:`Pool.map` call: the jobs each busy worker holds and the oldest's deadline."""

    def __init__(
        self,
        pool: Pool,
        fn: Callable[..., T],
        argsets: Sequence[tuple[Any, ...]],
        *,
        width: int,
        timeout: float,
        memory_bytes: int,
    ) -> None:
        self.pool = pool
        self.fn = fn
        self.argsets = argsets
        self.width = width
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self.results: dict[int, T | DocumentError] = {}
        self.pending = deque(range(len(argsets)))
        self.payloads: dict[int, bytes] = {}
        self.queues: dict[_Worker, deque[int]] = {}  # jobs sent to each worker, oldest first
        self.deadlines: dict[_Worker, float] = {}  # of each worker's oldest job
        self.unsent: dict[int, int] = {}  # how often a job could not be sent to a worker
        self.gone: set[_Worker] = set()  # refused a job: collect its oldest, send no more

    def run(self) -> list[T | DocumentError]:
        try:
            while self.pending or self.queues:
                self._fill()
                if self.queues:
                    first = min(self.deadlines.values())
                    for worker in _wait(list(self.queues), first - time.monotonic()):
                        self._collect(worker)
                    self._expire()
        finally:
            for worker in list(self.queues):  # interrupted (KeyboardInterrupt): stop them
                self._retire(worker, alive=False)
        return [self.results[i] for i in range(len(self.argsets))]

    def _fill(self) -> None:
        while self.pending and len(self.queues) < self.width:
            self._submit(self.pool._checkout())
        for worker, queued in list(self.queues.items()):
            if worker in self.gone:
                continue
            small = bool(self.pending) and len(self._payload(self.pending[0])) <= _PIPELINE
            if small and len(queued) == 1:
                self._submit(worker)

    def _payload(self, i: int) -> bytes:
        if i not in self.payloads:
            job = (self.fn, self.argsets[i], self.memory_bytes, self.timeout)
            self.payloads[i] = pickle.dumps(job, pickle.HIGHEST_PROTOCOL)
        return self.payloads[i]

    def _submit(self, worker: _Worker) -> None:
        i = self.pending.popleft()
        payload = self._payload(i)
        del self.payloads[i]
        self.queues.setdefault(worker, deque()).append(i)
        self.deadlines.setdefault(worker, time.monotonic() + self.timeout)
        try:
            _send(worker.sock, payload)
        except OSError as e:
            # The worker ended before this job reached it (typically: the job ahead of it
            # killed it, or it retired after a MemoryError), so this job never ran. It goes
            # back to the front of the queue for another worker, and the worker's own oldest
            # job, if any, is collected as what ended it. (Reporting this job as crashed
            # instead was a race: it failed whenever the worker died before the send.)
            self.queues[worker].pop()
            self.unsent[i] = self.unsent.get(i, 0) + 1
            if self.unsent[i] >= _SEND_ATTEMPTS:
                self.results[i] = ReaderCrashError(f"the reader process went away: {e}")
            else:
                self.pending.appendleft(i)
                self.payloads[i] = payload
            if self.queues[worker]:
                self.gone.add(worker)
            else:
                self._retire(worker, alive=False)

    def _collect(self, worker: _Worker) -> None:
        result, alive = self.pool._collect(
            worker, self.deadlines[worker], self.timeout, self.memory_bytes
        )
        self.results[self.queues[worker].popleft()] = result
        if not alive:
            self._retire(worker, alive=False)
        elif self.queues[worker]:
            self.deadlines[worker] = time.monotonic() + self.timeout
        else:
            self._retire(worker, alive=True)

    def _expire(self) -> None:
        now = time.monotonic()
        for worker, deadline in list(self.deadlines.items()):
            if deadline <= now:
                self.results[self.queues[worker].popleft()] = _timed_out(self.timeout)
                self._retire(worker, alive=False)

    def _retire(self, worker: _Worker, *, alive: bool) -> None:
        """Stop using *worker* for this batch; jobs queued behind its last one go back."""
        self.pending.extendleft(reversed(self.queues.pop(worker, deque())))
        self.deadlines.pop(worker, None)
        self.gone.discard(worker)
        if alive:
            self.pool._idle.append(worker)
        else:
            worker.stop(kill=True)


def _wait(workers: list[_Worker], timeout: float) -> list[_Worker]:
    """The workers with a message (or EOF) to read, waiting up to *timeout* seconds."""
    # poll(2), not an epoll selector: a batch waits once per document, and an epoll set
    # costs a descriptor and a system call per worker each time (a tenth of the parent's
    # time per HTML document). Hang-ups and errors are returned too: _collect reads the EOF.
    poller = select.poll()
    by_fd: dict[int, _Worker] = {}
    for worker in workers:
        fd = worker.sock.fileno()
        by_fd[fd] = worker
        poller.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, _ in poller.poll(math.ceil(max(0.0, timeout) * 1000))]


def _width(workers: int | None, jobs: int) -> int:
    if workers is None:
        # The CPUs this process may run on (taskset, cgroups' cpusets), not all the machine's.
        affinity = getattr(os, "sched_getaffinity", None)
        workers = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    return max(1, min(workers, jobs))


def _timed_out(timeout: float) -> DocumentTimeoutError:
    return DocumentTimeoutError(f"reading the document took longer than {timeout:g} s; stopped")


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


_shared: Pool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> Pool:
    """The process-wide pool, created on first use and stopped at exit."""
    global _shared  # noqa: PLW0603 (one pool per process, like logging's root logger)
    with _shared_lock:
        if _shared is None or _shared.pid != os.getpid():
            _shared = Pool()
            atexit.register(_shared.close)
        return _shared

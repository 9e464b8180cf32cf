"""Worker processes that never outlive the run.

A worker pool's children are separate processes: when the parent is SIGKILLed nothing tells them, and they
keep writing shards (and holding their models' memory) for minutes. On Linux each worker asks the kernel
for a parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)``); elsewhere a watchdog thread polls
``getppid``. Either way a worker whose parent is already gone exits at once.

The signal must be armed before the worker spends seconds importing the pipeline and building its models,
so ``armed_initializer`` runs first (this module imports only the standard library) and only then
unpickles and calls the real initializer.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Iterable
from multiprocessing.process import BaseProcess

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _prctl_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(1)


def die_with_parent(parent_pid: int | None) -> None:
    """Make this (worker) process die when its parent does; call first thing in the worker.

    ``parent_pid`` is the pid the parent had when it started the worker (None when the worker's parent is
    an intermediate such as the forkserver, which itself exits with the run's process).
    """
    armed = _prctl_pdeathsig()
    if parent_pid is None:
        return
    if os.getppid() != parent_pid:  # the parent died before the signal was armed: nobody will send it
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="watch-parent").start()


def armed_initializer(parent_pid: int | None, payload: bytes) -> None:
    """Pool initializer: die with the parent, ignore Ctrl-C, then run ``pickle.loads(payload) = (fn, args)``.

    The payload is unpickled here, after the signal is armed, because unpickling imports the modules it
    names (the pipeline, numpy, pyarrow...), which takes seconds on a busy machine.
    """
    die_with_parent(parent_pid)
    ignore_sigint()
    fn, args = pickle.loads(payload)  # noqa: S301 - written by our own parent process
    fn(*args)


def ignore_sigint() -> None:
    """Ctrl-C reaches the whole terminal process group; in a worker the parent decides what happens."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_processes(procs: Iterable[BaseProcess], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL whatever is still alive after ``timeout`` seconds; reaps them all."""
    procs = [p for p in procs if p.is_alive()]
    for p in procs:
        p.terminate()
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(1.0)

"""Atomic writes (a reader, or a re-run after a crash, sees the old file/folder or the new one, never half of
one) and the clean-up after a killed writer: its stale temporaries, one writer per folder, SIGTERM as Ctrl-C.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Names this module's temporaries get (tempfile adds 8 characters from [a-z0-9_]); a process killed between
# creating one and renaming it leaves it behind, and only a later run can remove it.
_TMP_NAME = re.compile(
    r"^\..+\.[a-z0-9_]{8}\.tmp$|^\..+\.(?:tmp|old)-[a-z0-9_]{8}$|^\.write-probe\.[a-z0-9_]{8}$"
)


def _umask() -> int:
    """The process umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _open_mode(path: Path, directory: bool) -> None:
    """Give a temp file/folder the mode ``open()``/``mkdir()`` would have (mkstemp/mkdtemp make 0600/0700)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextmanager
def atomic_dir(out: str | os.PathLike[str], what: str = "folder") -> Iterator[Path]:
    """Yield a temp folder beside ``out``; on success it replaces ``out`` with one rename, on error it is removed.

    An unwritable parent raises PermissionError naming ``out`` (``what`` says what kind of folder it is).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        _open_mode(tmp, directory=True)
    except OSError as e:
        raise PermissionError(f"cannot write {what} {out}: {e}") from e
    try:
        yield tmp
        if out.exists():
            # Move the old folder aside first so the new one lands with a single rename.
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "previous")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    _open_mode(Path(tmp), directory=False)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def is_temporary(name: str) -> bool:
    """True for the names ``atomic_write``/``atomic_dir`` (and a write probe) give their temporaries."""
    return _TMP_NAME.match(name) is not None


def remove_stale_temporaries(root: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Delete temp files/folders left in ``root`` by a killed writer; returns what was removed.

    Only call this while holding ``single_writer(root)``: a running writer's temporaries look the same.
    """
    root = Path(root)
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in [d for d in dirnames if is_temporary(d)]:
            shutil.rmtree(here / name, ignore_errors=True)
            removed.append(here / name)
            dirnames.remove(name)  # do not walk into what was just removed
        for name in filenames:
            if is_temporary(name):
                (here / name).unlink(missing_ok=True)
                removed.append(here / name)
        if not recursive:
            break
    return sorted(removed)


LOCK_NAME = ".writer.lock"


@contextmanager
def single_writer(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (a ``.writer.lock`` file in it) for the block.

    A second writer fails at once with a clear error instead of racing the first (and deleting its
    temporaries as stale). The kernel drops the lock when the holder dies, even by SIGKILL; the file is
    removed on a normal exit (one left by a killed run is reused). Without ``fcntl`` (Windows) the block
    runs unlocked.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield lock
        return
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(f"{folder} is being written by another process (lock {lock}); "
                             "wait for it to finish or stop it first") from None  # fmt: skip
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder before us removed the file after we opened it: lock the new one
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)  # unlink before unlocking: a waiter then sees a different inode
        os.close(fd)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises KeyboardInterrupt, so ``finally`` blocks save progress and stop workers.

    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

"""One way to write files: private modes, atomic replacement, whole-line appends.

Every file the cockpit rewrites (routing record, pruned registry, symlink) goes
through ``atomic_write``/``atomic_symlink``: a temp file in the same directory,
fsync, rename. A kill -9 at any instant leaves the old or the new content.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any

DIR_MODE = 0o700
FILE_MODE = 0o600


class StateDirError(OSError):
    """The state directory cannot be created or written: one line for the operator."""


_write_failures: dict[str, tuple[float, str]] = {}  # path -> (when, why): the last write there failed


def note_write(path: Path, error: str | None) -> None:
    """Remember whether the last write to ``path`` failed (a full disk, a read-only mount); a success clears it."""
    key = os.fspath(path)
    if error is None:
        _write_failures.pop(key, None)
    else:
        _write_failures[key] = (time.time(), error)


def write_failures(under: Path | None = None) -> dict[str, tuple[float, str]]:
    """The files (under ``under``) whose last write failed: path -> (when, the one line)."""
    prefix = os.fspath(under) + os.sep if under is not None else ""
    return {path: failure for path, failure in list(_write_failures.items()) if path.startswith(prefix)}


def free_bytes(directory: Path) -> int | None:
    """Bytes an unprivileged writer may still use in ``directory``'s filesystem (None: cannot tell)."""
    try:
        st = os.statvfs(directory)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


class StateFileError(OSError):
    """A state file cannot be used (a directory, a FIFO, a planted symlink, unreadable): ``str()`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def state_file_error(path: Path, exc: OSError) -> StateFileError:
    """The one line for an OSError on a state file, naming it."""
    if exc.errno == errno.ELOOP:
        return StateFileError(f"{path}: is a symlink; refusing to follow it (state files are never written through a link)")
    if exc.errno == errno.ENXIO:
        return StateFileError(f"{path}: not a regular file (a FIFO or a device)")
    return StateFileError(f"{path}: {exc.strerror or exc}")


def _regular(fd: int, path: Path) -> None:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StateFileError(f"{path}: not a regular file")


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) as 0700; an existing dir keeps its owner's mode unless looser."""
    path = Path(path)
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(path, DIR_MODE)
    except OSError as exc:
        raise StateDirError(exc.errno, f"state dir {path} is not usable: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StateDirError(13, f"state dir {path} is not writable")
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | str, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data``: temp file in the same dir, fsync, rename, fsync the dir."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        note_write(path, f"{path}: {exc.strerror or exc}")
        raise
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            note_write(path, f"{path}: {exc.strerror or exc}")
        raise
    note_write(path, None)
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, value: Any, mode: int = FILE_MODE) -> None:
    atomic_write(path, json.dumps(value, indent=2, sort_keys=False) + "\n", mode)


def atomic_symlink(link: Path, target: str | os.PathLike[str]) -> None:
    """Repoint ``link`` at ``target`` atomically (temp link + rename)."""
    link = Path(link)
    tmp = link.with_name(f".{link.name}.{secrets.token_hex(6)}.tmp")
    os.symlink(os.fspath(target), tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(link.parent)


def open_state_file(path: Path, flags: int, mode: int = FILE_MODE) -> int:
    """Open a state file for writing, never through a symlink (a planted one, dangling too, is refused):
    an existing file with O_NOFOLLOW, a new one with O_CREAT|O_EXCL. Only a regular file is accepted."""
    path = Path(path)
    base = flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    for _ in range(3):
        try:
            fd = os.open(path, base)
        except FileNotFoundError:
            try:
                fd = os.open(path, base | os.O_CREAT | os.O_EXCL, mode)
            except FileExistsError:
                continue  # created (or planted) between the two opens: look again
            except OSError as exc:
                raise _refusal(path, exc) from None
        except OSError as exc:
            raise _refusal(path, exc) from None
        _regular(fd, path)
        return fd
    raise StateFileError(f"{path}: keeps appearing and vanishing; refusing to write it")


def _refusal(path: Path, exc: OSError) -> StateFileError:
    if exc.errno == errno.EEXIST or (exc.errno == errno.ELOOP) or os.path.islink(path):
        return StateFileError(f"{path}: is a symlink; refusing to write through it (state files are never "
                              "written through a link: remove it)")
    return state_file_error(path, exc)


def append_line(path: Path, line: str, mode: int = FILE_MODE) -> None:
    """Append one whole line with a single write (O_APPEND); callers hold the file's lock."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = open_state_file(path, os.O_WRONLY | os.O_APPEND, mode)
    try:
        size = os.fstat(fd).st_size
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError as exc:
            # A full disk mid-line: take the torn part back, so the file holds whole lines only.
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass
            error = state_file_error(Path(path), exc)
            note_write(Path(path), str(error))
            raise error from None
    finally:
        os.close(fd)
    note_write(Path(path), None)

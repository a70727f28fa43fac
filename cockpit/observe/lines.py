"""One incremental line reader: every tail of the cockpit (registry, journal, reminders, logs,
transcripts, stream-json outputs) reads its file through ``LineTail``.

A tail remembers the file's identity (device, inode and its first bytes) and the offset after
the last complete line it handed out. Each ``read()`` returns only the complete lines appended
since, and notices, then starts over, when the file was

- replaced (a rename over it: a prune, a rotation): a new identity at the path;
- truncated (copytruncate): smaller than our offset;
- rewritten in place: its first bytes, or the byte before our offset, changed.

A last line without its newline is left for the next read (``partial`` shows it). A line longer
than ``max_line_bytes`` is never held in memory: it is skipped up to its newline and handed out
as one ``Oversize``, so a reader can count it: as soon as it crosses the limit, or, when the
reader wants its last ``salvage_bytes`` (a transcript's timestamp), once its newline arrives. A tail may start
at the file's end (``start="end"``, like ``tail -f``, or the last ``tail_bytes`` of it, skipping
the partial first line). Only regular files are read: a directory, a FIFO or a device is
``error``, never a hang or an endless read. Blocking file I/O: call it from a worker thread.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["HEAD_ID_BYTES", "LineBatch", "LineTail", "Oversize"]

HEAD_ID_BYTES = 64  # the first bytes remembered to tell a rewritten file from an appended one
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Oversize:
    """A line longer than the tail's ``max_line_bytes``: its size and its last bytes (to salvage a field)."""

    size: int
    tail: bytes = b""


@dataclass(frozen=True)
class LineBatch:
    """What one ``read()`` found. ``reset``: the file was replaced or rewritten, lines start over."""

    lines: list[bytes | Oversize] = field(default_factory=list)
    partial: bytes = b""        # the unterminated last line (still being written, or torn), when small enough
    reset: bool = False
    changed: bool = False       # the file was read (it moved since the last read)
    missing: bool = False
    error: str | None = None    # the path is not a readable regular file (one line)

    @property
    def oversize(self) -> int:
        return sum(1 for line in self.lines if isinstance(line, Oversize))


class LineTail:
    """Incremental reader of one file of lines.

    ``start``: where the first read of a file that already exists begins: ``"start"`` or ``"end"``
    (its last ``tail_bytes``, from the first whole line). ``replaced``: where a file seen later
    (appeared, replaced, truncated) begins: ``"start"``, ``"end"``, or ``"drain"`` (read the rest
    of the old file first, then the new one from its start: a rotated log). ``keep_open`` holds the
    descriptor between reads (its inode cannot be recycled under us; needed by ``drain``).
    ``nofollow``: the path must not be a symlink (a state file). ``max_read_bytes`` bounds one read.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_line_bytes: int = 1 << 20, start: str = "start",
                 tail_bytes: int = 0, replaced: str = "start", keep_open: bool = False, nofollow: bool = False,
                 max_read_bytes: int | None = None, salvage_bytes: int = 0, chunk_bytes: int = _CHUNK) -> None:
        if start not in ("start", "end") or replaced not in ("start", "end", "drain"):
            raise ValueError(f"bad LineTail policy start={start!r} replaced={replaced!r}")
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.tail_bytes = tail_bytes
        self.replaced = replaced
        self.keep_open = keep_open or replaced == "drain"
        self.nofollow = nofollow
        self.max_read_bytes = max_read_bytes
        self.salvage_bytes = salvage_bytes
        self.chunk_bytes = chunk_bytes
        self._first_policy = start
        self.bytes_read = 0    # data bytes read (advisory: tests and the benchmark)
        self.probe_bytes = 0   # identity checks
        self.resets = 0
        self.rotations = 0
        self.truncations = 0
        self._fd: int | None = None
        self._forget()

    # --- state ------------------------------------------------------------------------------

    def _forget(self) -> None:
        self._ident: tuple[int, int] | None = None
        self._head = b""
        self.offset = 0
        self._last_byte = b""
        self._discarding = False
        self._quiet_skip = False   # the partial first line of a tail-from-the-end: skipped, not oversize
        self._skipped = 0
        self._salvage = b""
        self._size = -1
        self._mtime_ns = -1
        self._partial = b""

    def _close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = None

    def close(self) -> None:
        self._close()
        self._forget()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    @property
    def seen(self) -> bool:
        return self._ident is not None

    @property
    def size(self) -> int:
        """The file's size at the last read (-1 before the first)."""
        return self._size

    def begin(self, start: str, *, tail_bytes: int = 0) -> None:
        """Start over: the next read opens the file afresh with this policy (a reader that peeked at it first)."""
        self.close()
        self._first_policy = start
        self.tail_bytes = tail_bytes

    # --- reading ----------------------------------------------------------------------------

    def read(self) -> LineBatch:
        """The complete lines appended since the last read; never raises for content, only returns ``error``."""
        lines: list[bytes | Oversize] = []
        reset = False
        try:
            st = os.stat(self.path, follow_symlinks=not self.nofollow)
        except FileNotFoundError:
            return self._missing(lines)
        except OSError as exc:
            return self._failed(lines, f"{self.path}: {exc.strerror or exc}")
        ident = (st.st_dev, st.st_ino)
        if self._ident is not None and ident != self._ident:
            reset = self._replaced(lines)
        if self._ident is not None and st.st_size == self._size and st.st_mtime_ns == self._mtime_ns:
            return LineBatch(lines, self._partial, reset, changed=bool(lines))
        try:
            fd = self._open()
        except FileNotFoundError:
            return self._missing(lines)
        except OSError as exc:
            return self._failed(lines, f"{self.path}: {exc.strerror or exc}")
        try:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode):
                return self._failed(lines, f"{self.path}: not a regular file")
            reset = self._settle(fd, fst) or reset
            if not self._scan(fd, lines):
                self._size = -1  # a bounded read stopped short: the rest is read next time, changed or not
            if len(self._head) < HEAD_ID_BYTES and not self.keep_open:
                self._head = os.pread(fd, HEAD_ID_BYTES, 0)
                self.probe_bytes += len(self._head)
        finally:
            if not self.keep_open:
                self._close()
        return LineBatch(lines, self._partial, reset, changed=True)

    def _open(self) -> int:
        if self._fd is None:
            flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (os.O_NOFOLLOW if self.nofollow else 0)
            self._fd = os.open(self.path, flags)
        return self._fd

    def _missing(self, lines: list[bytes | Oversize]) -> LineBatch:
        if self._fd is not None and self.replaced == "drain":
            self._scan(self._fd, lines)  # renamed away, its successor not there yet: keep draining the old
            return LineBatch(lines, self._partial, missing=True)
        had = self._ident is not None
        self._close()
        self._forget()
        self._first_policy = "start"  # a file that appears later is new from its first byte
        return LineBatch(lines, reset=had, missing=True)

    def _failed(self, lines: list[bytes | Oversize], error: str) -> LineBatch:
        self._close()
        self._forget()
        return LineBatch(lines, error=error)

    def _replaced(self, lines: list[bytes | Oversize]) -> bool:
        """A new file at the path: drain the old one if asked, then start over on the new one."""
        if self._fd is not None and self.replaced == "drain":
            self._scan(self._fd, lines)
            self.rotations += 1
        self._close()
        self._forget()
        self.resets += 1
        self._first_policy = self.replaced
        return True

    def _settle(self, fd: int, st: os.stat_result) -> bool:
        """Place the offset for this read: where a new file starts, or over again after a rewrite."""
        reset = False
        if self._ident is None:
            self._ident = (st.st_dev, st.st_ino)
            self._start(fd, st.st_size, self._first_policy)
            self._first_policy = "start" if self.replaced == "drain" else self.replaced
        elif self._rewritten(fd, st.st_size):
            self.truncations += 1
            self.resets += 1
            self._forget()
            self._ident = (st.st_dev, st.st_ino)
            self._start(fd, st.st_size, "end" if self.replaced == "end" else "start")
            reset = True
        self._size = st.st_size
        self._mtime_ns = st.st_mtime_ns
        return reset

    def _start(self, fd: int, size: int, policy: str) -> None:
        if policy != "end" or size == 0:
            return
        offset = max(0, size - self.tail_bytes)
        self.offset = offset
        if offset > 0:
            before = os.pread(fd, 1, offset - 1)
            self.probe_bytes += 1
            self._last_byte = before
            self._discarding = self._quiet_skip = before != b"\n"

    def _rewritten(self, fd: int, size: int) -> bool:
        if size < self.offset:
            return True
        if self._head and not self.keep_open:  # an open descriptor pins the inode: no recycled file to tell apart
            head = os.pread(fd, len(self._head), 0)
            self.probe_bytes += len(head)
            if head != self._head:
                return True
        if self.offset > 0 and self._last_byte:
            before = os.pread(fd, 1, self.offset - 1)
            self.probe_bytes += 1
            return before != self._last_byte
        return False

    def _scan(self, fd: int, lines: list[bytes | Oversize]) -> bool:
        """Read on from the offset; True when it reached the end of the file (not stopped by the bound)."""
        buf = bytearray()
        drained = False
        budget = self.max_read_bytes if self.max_read_bytes is not None else -1
        while budget != 0:
            want = self.chunk_bytes if budget < 0 else min(self.chunk_bytes, budget)
            chunk = os.pread(fd, want, self.offset + len(buf))
            if not chunk:
                drained = True
                break
            self.bytes_read += len(chunk)
            if budget > 0:
                budget -= len(chunk)
            buf += chunk
            start = 0
            while (newline := buf.find(b"\n", start)) != -1:
                self._take(bytes(buf[start:newline]), lines)
                start = newline + 1
            del buf[:start]
            self.offset += start
            if start:
                self._last_byte = b"\n"
            if self._discarding or len(buf) > self.max_line_bytes:
                if not self._discarding and not self.salvage_bytes:
                    lines.append(Oversize(len(buf)))  # counted when it crosses the limit, not when (if ever) it ends
                self._discard(buf)
        self._partial = bytes(buf) if buf.strip() and not self._discarding else b""
        return drained

    def _take(self, line: bytes, lines: list[bytes | Oversize]) -> None:
        if self._discarding:
            size = self._skipped + len(line)
            tail = (self._salvage + line)[-self.salvage_bytes:] if self.salvage_bytes else b""
            if not self._quiet_skip and self.salvage_bytes:
                lines.append(Oversize(size, tail))
            self._discarding = self._quiet_skip = False
            self._skipped = 0
            self._salvage = b""
        elif len(line) > self.max_line_bytes:
            lines.append(Oversize(len(line), line[-self.salvage_bytes:] if self.salvage_bytes else b""))
        else:
            lines.append(line)

    def _discard(self, buf: bytearray) -> None:
        """Skip the bytes of a line too long to hold, keeping only its last ``salvage_bytes``."""
        self._discarding = True
        self._skipped += len(buf)
        if self.salvage_bytes:
            self._salvage = (self._salvage + bytes(buf))[-self.salvage_bytes:]
        self.offset += len(buf)
        if buf:
            self._last_byte = buf[-1:]
        buf.clear()

"""The conversation view's reader: the last turns of a transcript, read from its end, then followed.

``ConversationTail.open()`` seeks back from the end of the file in chunks until it holds
``max_entries`` entries (or reached the start, or read ``max_back_bytes``), so a 100 MB transcript
opens as fast as a small one; ``update()`` then reads only what was appended (complete lines; a
partial last line waits for its newline). A replaced or truncated file is opened again from its
end. Lines that are not JSON objects (torn, binary, hostile, longer than ``max_line_bytes``) are
counted in ``bad_lines`` and skipped, never raised; record types the view does not show are
skipped silently.

What is shown, from Claude Code's and Codex's formats alike (see the agent-formats reference):

- ``user``: what the human (or a wake, or ``cockpit send``) typed; tool results are not shown;
- ``assistant``: the model's text (rendered as Markdown by the TUI);
- ``tool``: one line per tool call, its name and its main argument (``Bash  pytest -q``);
- ``system``: the few events worth a line (an API error, a compaction, a turn aborted).

Blocking file I/O: call from a worker thread.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

from cockpit import timefmt
from cockpit.codex_format import CodexItem


MAX_LINE_BYTES = 4 << 20
BACK_CHUNK = 256 << 10
MAX_BACK_BYTES = 64 << 20
MAX_ENTRIES = 300
HEAD_BYTES = 256
TEXT_LIMIT = 20_000
ARG_LIMIT = 200
# The argument that says what a tool call does, by tool (Claude Code's and Codex's names).
MAIN_ARGS = {
    "Bash": ("command",), "shell": ("command",), "local_shell": ("command",), "exec_command": ("cmd", "command"),
    "Read": ("file_path",), "Write": ("file_path",), "Edit": ("file_path",), "MultiEdit": ("file_path",),
    "NotebookEdit": ("notebook_path",), "Grep": ("pattern", "path"), "Glob": ("pattern",),
    "WebFetch": ("url",), "WebSearch": ("query",), "Task": ("description",), "Agent": ("description",),
    "TodoWrite": ("todos",), "apply_patch": ("input",), "update_plan": ("plan",),
}
_FALLBACK_ARGS = ("file_path", "path", "command", "cmd", "pattern", "url", "query", "description", "prompt")


@dataclass(frozen=True, slots=True)
class Entry:
    role: str                 # user | assistant | tool | system
    text: str                 # the text; for a tool, its main argument
    at: float | None = None
    tool: str | None = None   # the tool's name


def _clip(text: str, limit: int) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates: never a crash when shown
    return text if len(text) <= limit else text[:limit] + f"… (+{len(text) - limit} chars)"


def _one_line(value: Any) -> str:
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            value = " ".join(value)  # Codex's shell command is an argv
        else:
            return f"{len(value)} items"
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return ""
    return _clip(" ".join(str(value).split()), ARG_LIMIT)


def main_argument(name: str, args: Any) -> str:
    """The one argument that says what a tool call does: Bash's command, Read's file, ..."""
    if isinstance(args, str):
        try:
            parsed = json.loads(args)
        except (ValueError, RecursionError):
            return _one_line(args.splitlines()[0] if args.strip() else "")
        args = parsed if isinstance(parsed, dict) else {"input": args}
    if not isinstance(args, dict):
        return ""
    for key in MAIN_ARGS.get(name, ()) + _FALLBACK_ARGS:
        text = _one_line(args.get(key))
        if text:
            return text.splitlines()[0] if key == "input" else text
    for value in args.values():
        text = _one_line(value)
        if text:
            return text
    return ""


def _text_blocks(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [b["text"] for b in content if isinstance(b, dict) and b.get("type") in ("text", "input_text", "output_text")
            and isinstance(b.get("text"), str)]


def claude_entries(rec: dict[str, Any]) -> list[Entry]:
    """What one Claude Code record shows in the conversation (often nothing)."""
    rtype = rec.get("type")
    if rec.get("isSidechain") is True or rec.get("isMeta") is True:
        return []
    at = timefmt.parse(rec.get("timestamp"))
    message = rec.get("message") if isinstance(rec.get("message"), dict) else {}
    content = message.get("content")
    if rtype == "user":
        return [Entry("user", _clip(t, TEXT_LIMIT), at) for t in _text_blocks(content) if t.strip()]
    if rtype == "assistant":
        out: list[Entry] = []
        for block in content if isinstance(content, list) else [{"type": "text", "text": content}]:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"].strip():
                out.append(Entry("assistant", _clip(block["text"], TEXT_LIMIT), at))
            elif block.get("type") == "tool_use":
                name = block.get("name") if isinstance(block.get("name"), str) else "?"
                out.append(Entry("tool", main_argument(name, block.get("input")), at, _clip(name, 60)))
        return out
    if rtype == "system" and rec.get("subtype") in ("api_error", "compact_boundary"):
        what = "API error" if rec.get("subtype") == "api_error" else "conversation compacted"
        detail = rec.get("content") if isinstance(rec.get("content"), str) else ""
        return [Entry("system", _clip(f"{what}: {detail}" if detail else what, 300), at)]
    return []


def codex_entries(rec: dict[str, Any]) -> list[Entry]:
    """What one Codex rollout line shows: event messages for the text, response items for tool calls."""
    item = CodexItem.of(rec)
    if item is None:
        return []
    if item.kind in ("user", "assistant"):
        return [Entry(item.kind, _clip(item.text, TEXT_LIMIT), item.at)]
    if item.kind == "aborted":
        return [Entry("system", "turn aborted", item.at)]
    name = item.name or item.call.replace("_call", "")
    args = item.args
    if item.call == "local_shell_call" and isinstance(args, dict):
        args = {"command": args.get("command")}
    return [Entry("tool", main_argument(name, args), item.at, _clip(name, 60))]


def entries_of(line: bytes, kind: str) -> list[Entry] | None:
    """The entries of one line; None when the line is garbage (counted by the caller)."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(rec, dict):
        return None
    return codex_entries(rec) if kind == "codex" else claude_entries(rec)


class ConversationTail:
    """The last ``max_entries`` entries of one transcript, kept current (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], kind: str = "claude-code", *, max_entries: int = MAX_ENTRIES,
                 max_back_bytes: int = MAX_BACK_BYTES, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.path = os.fspath(path)
        self.kind = kind
        self.entries: deque[Entry] = deque(maxlen=max_entries)
        self.max_back_bytes = max_back_bytes
        self.max_line_bytes = max_line_bytes
        self.bad_lines = 0
        self.offset = 0              # after the last complete line read
        self.start = 0               # where the backward read stopped (0: the whole file was read)
        self.error: str | None = None
        self.opened = False
        self._ident: tuple[int, int] | None = None
        self._head = b""  # the file's first bytes: a file replaced on a recycled inode differs here

    @property
    def complete(self) -> bool:
        """Whether the entries start at the beginning of the file (nothing older was left unread)."""
        return self.start == 0

    def _parse(self, lines: Iterable[bytes]) -> list[Entry]:
        out: list[Entry] = []
        for line in lines:
            if not line.strip():
                continue
            entries = None if len(line) > self.max_line_bytes else entries_of(line, self.kind)
            if entries is None:
                self.bad_lines += 1
            else:
                out += entries
        return out

    def open(self) -> list[Entry]:
        """Read backwards from the end until there are enough entries; returns them."""
        self.entries.clear()
        self.bad_lines = 0
        self.opened = True
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            self.error = f"{self.path}: {exc.strerror or exc}"
            self._ident, self.offset, self.start = None, 0, 0
            return []
        try:
            st = os.fstat(fd)
            self._ident, self.error = (st.st_dev, st.st_ino), None
            self._head = os.pread(fd, HEAD_BYTES, 0)
            self.offset, self.start = self._read_back(fd, st.st_size)
        finally:
            os.close(fd)
        return list(self.entries)

    def _read_back(self, fd: int, size: int) -> tuple[int, int]:
        """Chunks from the end, newest first, until enough entries; returns (end of the last complete line,
        start of the oldest line read)."""
        want = self.entries.maxlen or MAX_ENTRIES
        chunks: list[list[Entry]] = []
        pos, found, carry = size, 0, b""
        unfinished: bytes | None = None  # after the file's last newline: a line still being written
        while pos > 0 and found < want and size - pos < self.max_back_bytes:
            step = min(BACK_CHUNK, pos)
            pos -= step
            data = os.pread(fd, step, pos) + carry
            lines = data.split(b"\n")
            if unfinished is None:
                if len(lines) == 1 and pos > 0:
                    carry = data  # no newline yet: all of it is the unfinished last line
                    continue
                unfinished = lines.pop()
            carry = lines.pop(0) if pos > 0 else b""  # may be the end of a line that starts earlier
            entries = self._parse(lines)
            chunks.append(entries)
            found += len(entries)
        for entries in reversed(chunks):
            self.entries.extend(entries)
        if unfinished is None:  # no newline at all in what was read
            return (0, 0) if pos == 0 else (pos, pos)
        return size - len(unfinished), (pos + len(carry) + 1 if pos > 0 else 0)

    def update(self) -> tuple[bool, list[Entry]]:
        """``(reset, entries)``: the entries appended since the last call, or, when the file was replaced,
        shrunk or opened for the first time, ``(True, all entries)``."""
        if not self.opened:
            return True, self.open()
        try:
            st = os.stat(self.path, follow_symlinks=False)
        except OSError as exc:
            self.error = f"{self.path}: {exc.strerror or exc}"
            return False, []
        if self._ident != (st.st_dev, st.st_ino) or st.st_size < self.offset:
            return True, self.open()
        if st.st_size == self.offset and self.error is None:
            return False, []
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            self.error = f"{self.path}: {exc.strerror or exc}"
            return False, []
        try:
            if self.error is not None or os.pread(fd, len(self._head), 0) != self._head:
                os.close(fd)
                fd = -1
                return True, self.open()  # replaced (maybe on a recycled inode), or back after vanishing
            data = os.pread(fd, min(st.st_size - self.offset, 64 << 20), self.offset)
        finally:
            if fd >= 0:
                os.close(fd)
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > self.max_line_bytes:  # one endless line: skipped, counted
                self.bad_lines += 1
                self.offset += len(data)
            return False, []
        self.offset += cut + 1
        new = self._parse(data[:cut].split(b"\n"))
        self.entries.extend(new)
        return False, new

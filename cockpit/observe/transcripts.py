"""Transcript readers: incremental, tolerant tails of the JSONL files agents write (seed #3).

A reader remembers, per file, its identity (device + inode + the first bytes) and the
offset after the last complete line. A tick stats the file and reads only what was
appended; a replaced, truncated or rewritten file is detected and read again from the
start; a partial last line waits for its newline. Bad lines (torn, non-UTF-8, not an
object, deeper than the parser goes, longer than ``max_line_bytes``) are counted and
skipped, never raised; unknown record types are skipped. A 100 MB transcript costs one
pass once (``bench_transcript`` measures it), then each tick costs what was appended.

A big file seen for the first time only as a candidate (its folder holds the fleet's
cwd) is *peeked*: its head (first record time, cwd) and its tail (last record time, turn
state, last texts, recent records) are read, not the middle; ``ensure_full`` reads it
all, once, when it matters (it became an agent's disk truth). ``complete`` says whether
the turn counts cover the whole file.

Claude Code: ``$CLAUDE_CONFIG_DIR/projects/<slug>/<uuid>.jsonl`` (only top-level files
whose stem is a UUID are sessions; sub-agents' ``<uuid>/subagents/*.jsonl`` and
``agent-*.jsonl`` and files of ``isSidechain`` records are not). Codex:
``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl``. Generic: any JSONL files a glob finds.
The cwd is read from the records' ``cwd`` field; a slug is never decoded back into a path.
"""

from __future__ import annotations

import datetime as dt
import glob as globmod
import json
import os
import re
import stat
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from cockpit import timefmt
from cockpit.claude_paths import project_slug
from cockpit.observe.lines import LineBatch, LineTail, Oversize
from cockpit.observe.tokens import TokenTally, Tokens
from cockpit.records import BadLines, json_object

__all__ = [
    "ClaudeTranscriptReader",
    "CodexIndex",
    "CodexTranscriptReader",
    "GenericTranscriptReader",
    "GlobTranscripts",
    "RecentRecord",
    "TranscriptIndex",
    "TranscriptReader",
    "TranscriptSummary",
    "bench_transcript",
    "is_session_file",
]

MAX_LINE_BYTES = 8 << 20        # a longer line is skipped (its timestamp salvaged when it can be)
READ_CHUNK = 1 << 20
FULL_READ_BELOW = 512 << 10     # smaller files are always read whole on first sight
PEEK_HEAD = 16 << 10
PEEK_TAIL = 64 << 10
PEEK_TAIL_MAX = 4 << 20
HEAD_ID_BYTES = 64              # the first bytes remembered to tell a rewritten file from an appended one
RING = 16                       # recent records kept per session
TEXT_CHARS = 600                # text kept per record / preview
SALVAGE_BYTES = 8192            # the end of an oversize line kept to find its timestamp
FUTURE_SLACK_S = 86400.0        # a timestamp further ahead than this is not believed

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ROLLOUT_ID_RE = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\.jsonl$")
_TS_SALVAGE_RE = re.compile(rb'"timestamp"\s*:\s*"([0-9T:.+\-Z]{10,40})"')
# Local slash commands (/model, /clear...) write user records without a model turn or turn_duration.
_LOCAL_COMMAND_PREFIXES = ("<command-name>", "<command-message>", "<local-command-stdout>",
                           "<local-command-stderr>", "<local-command-caveat>")
_INTERRUPTED_PREFIX = "[Request interrupted by user"


def is_session_file(path: str | os.PathLike[str]) -> bool:
    """A top-level Claude Code session transcript: ``<uuid>.jsonl`` (sub-agents' files are not)."""
    name = os.path.basename(os.fspath(path))
    return name.endswith(".jsonl") and bool(_UUID_RE.match(name[:-6]))


def _clean(text: str, limit: int = TEXT_CHARS) -> str:
    """Printable-ish, valid UTF-8 (lone surrogates replaced), bounded."""
    if len(text) > limit:
        text = text[:limit] + "…"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _summarise_input(value: Any, limit: int = 160) -> str:
    if not isinstance(value, dict):
        return ""
    parts = []
    for key in ("file_path", "path", "command", "pattern", "url", "description", "prompt"):
        item = value.get(key)
        if isinstance(item, str) and item:
            parts.append(f"{key}={item}")
        if len(parts) >= 2:
            break
    if not parts:
        for key, item in list(value.items())[:2]:
            if isinstance(item, (str, int, float)) and not isinstance(item, bool):
                parts.append(f"{key}={item}")
    return _clean(", ".join(parts), limit)


@dataclass(frozen=True, slots=True)
class RecentRecord:
    """One recent record of a session, small enough to keep a ring of per session."""
    role: str                       # user | assistant | tool_result | system | ...
    text: str                       # bounded
    tools: tuple[str, ...] = ()     # "Read(file_path=...)" per tool_use block
    timestamp: float | None = None
    kind: str = ""                  # the record's type, with its subtype when it has one

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "text": self.text, "tools": list(self.tools), "timestamp": self.timestamp,
                "kind": self.kind}


@dataclass(frozen=True)
class TranscriptSummary:
    """What one transcript says, as of the last read."""
    path: str
    kind: str                       # claude-code | codex | generic
    session_id: str
    cwd: str | None
    first_at: float | None          # first record timestamp
    last_at: float | None           # last record timestamp (not mtime; untimed lines do not move it)
    turn_finished: bool | None      # the last turn ended (Claude: turn_duration; Codex: task_complete); None: unknown
    last_user_text: str | None
    last_assistant_text: str | None
    turns: int                      # user prompts
    turns_finished: int
    assistant_messages: int
    records: int                    # records read (parsed objects)
    bad_lines: int                  # lines skipped as unreadable (torn, non-UTF-8, not an object, oversize)
    oversize_lines: int
    sidechain: bool                 # records say isSidechain: not a session
    complete: bool                  # read from the start: the counts cover the whole file
    size: int
    recent: tuple[RecentRecord, ...] = ()
    tokens: Tokens | None = None    # the session's tokens (None: only head and tail were read)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "kind": self.kind, "session_id": self.session_id, "cwd": self.cwd,
            "first_at": self.first_at, "last_at": self.last_at, "turn_finished": self.turn_finished,
            "last_user_text": self.last_user_text, "last_assistant_text": self.last_assistant_text,
            "turns": self.turns, "turns_finished": self.turns_finished,
            "assistant_messages": self.assistant_messages, "records": self.records, "bad_lines": self.bad_lines,
            "oversize_lines": self.oversize_lines, "sidechain": self.sidechain, "complete": self.complete,
            "size": self.size, "recent": [r.to_json() for r in self.recent],
        }


# --- the incremental reader ---------------------------------------------------------------------


class TranscriptReader:
    """Incremental, tolerant reader of one JSONL transcript. Subclasses interpret records.

    ``update()`` reads what was appended since the last call and returns True when anything
    changed. Byte counters: ``bytes_read`` (data), ``probe_bytes`` (identity checks).
    Blocking file I/O: call it from a worker thread.
    """

    kind = "generic"

    def __init__(self, path: str | os.PathLike[str], *, full: bool = True, max_line_bytes: int = MAX_LINE_BYTES,
                 clock: Callable[[], float] = time.time, ring: int = RING) -> None:
        self.path = Path(path)
        self.full = full
        self.max_line_bytes = max_line_bytes
        self.clock = clock
        self._ring_size = ring
        # the one line reader: identity, truncation and rewrite, partial and oversize lines (their end salvaged)
        self._lines = LineTail(self.path, max_line_bytes=max_line_bytes, salvage_bytes=SALVAGE_BYTES,
                               chunk_bytes=READ_CHUNK)
        self._peek_bytes = 0
        self.resets = 0
        self.gone = False
        self._reset_state()

    # --- state --------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self.complete = True
        self.session_id = self._default_session_id()
        self.cwd: str | None = None
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.turn_finished: bool | None = None
        self.last_user_text: str | None = None
        self.last_assistant_text: str | None = None
        self.turns = 0
        self.turns_finished = 0
        self.assistant_messages = 0
        self.records = 0
        self.bad = BadLines()
        self.oversize_lines = 0
        self.sidechain: bool | None = None
        self.recent: deque[RecentRecord] = deque(maxlen=self._ring_size)
        self.tokens = TokenTally()  # fed by the kinds' record handlers; counts only what was read
        self._summary: TranscriptSummary | None = None

    @property
    def bad_lines(self) -> int:
        return self.bad.total

    @property
    def offset(self) -> int:
        return self._lines.offset

    @property
    def bytes_read(self) -> int:
        return self._lines.bytes_read + self._peek_bytes

    @property
    def probe_bytes(self) -> int:
        return self._lines.probe_bytes

    def _default_session_id(self) -> str:
        return self.path.stem

    def ensure_full(self) -> None:
        """Read the whole file (once) from the next ``update`` on, if only head and tail were read."""
        self.full = True
        if not self.complete:
            self._restart()

    def _restart(self) -> None:
        self.resets += 1
        self._lines.close()
        self._reset_state()

    # --- reading ------------------------------------------------------------------------
    def update(self) -> bool:
        """Read what was appended; detect replacement/truncation/rewrite. Never raises for bad content."""
        batch = self._peek() if not self._lines.seen and not self.full else None
        batch = batch or self._lines.read()
        if batch.missing or batch.error is not None:
            changed = not self.gone
            self.gone = True
            if batch.reset or batch.error is not None:
                self._lines.close()
                self._reset_state()
            return changed
        self.gone = False
        if batch.reset:
            self.resets += 1
            self._reset_state()  # replaced, truncated or rewritten: read again from the start
        if not batch.changed:
            return False
        for line in batch.lines:
            if isinstance(line, Oversize):
                self._end_oversize(line.tail)
            else:
                self._line(line)
        self._summary = None
        return True

    def _end_oversize(self, tail: bytes) -> None:
        self.oversize_lines += 1
        self.bad.add(f"transcript line over {self.max_line_bytes} bytes")
        # Claude writes "timestamp" near the end of a record: keep the last activity honest.
        found = _TS_SALVAGE_RE.findall(tail)
        if found:
            ts = timefmt.parse(found[-1].decode("ascii", "replace"))
            if ts is not None and self._believable(ts):
                self.last_at = ts
                if self.first_at is None:
                    self.first_at = ts

    def _peek(self) -> LineBatch | None:
        """First sight of a big candidate: its head, then the line reader from a tail window that holds
        a timed record (widened up to PEEK_TAIL_MAX), not the middle. None: not big, read it whole."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size <= FULL_READ_BELOW:
                return None
            head = os.pread(fd, PEEK_HEAD, 0)
        finally:
            os.close(fd)
        self.complete = False
        self._peek_bytes += len(head)
        for line in head.split(b"\n")[:-1]:
            rec = self._parse(line)
            if rec is not None:
                self._head_record(rec)
        window = PEEK_TAIL
        while True:
            self._lines.begin("end", tail_bytes=window)
            batch = self._lines.read()
            timed = any(isinstance(line, bytes) and b'"timestamp"' in line for line in batch.lines)
            if timed or batch.error is not None or window >= st.st_size or window >= PEEK_TAIL_MAX:
                return batch
            window *= 4

    def _head_record(self, rec: dict[str, Any]) -> None:
        """Facts a peek takes from the head: first time and cwd (and, for Codex, the session meta)."""
        ts = timefmt.parse(rec.get("timestamp"))
        if ts is not None and self.first_at is None and self._believable(ts):
            self.first_at = ts
        cwd = rec.get("cwd")
        if isinstance(cwd, str) and cwd and self.cwd is None:
            self.cwd = cwd

    @staticmethod
    def _parse(line: bytes) -> dict[str, Any] | None:
        if not line.strip():
            return None
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return None
        return value if isinstance(value, dict) else None

    def _line(self, line: bytes) -> None:
        if not line.strip():
            return
        rec, why = json_object(line)
        if rec is None:
            self.bad.add(f"transcript: {why}", line)
            return
        self.records += 1
        try:
            self._record(rec)
        except (TypeError, ValueError, AttributeError, KeyError, RecursionError, OverflowError) as exc:
            # a hostile shape we did not foresee: skip it, never raise
            self.bad.add(f"transcript record of an unexpected shape ({type(exc).__name__})", line)

    def _believable(self, ts: float) -> bool:
        return ts <= self.clock() + FUTURE_SLACK_S

    def _stamp(self, rec: Mapping[str, Any]) -> float | None:
        ts = timefmt.parse(rec.get("timestamp"))
        if ts is None or not self._believable(ts):
            return None
        self.last_at = ts
        if self.first_at is None:
            self.first_at = ts
        return ts

    def _record(self, rec: dict[str, Any]) -> None:  # pragma: no cover - overridden
        self._stamp(rec)

    def _remember(self, role: str, text: str, tools: Iterable[str] = (), ts: float | None = None,
                  kind: str = "") -> None:
        self.recent.append(RecentRecord(role, _clean(text), tuple(tools), ts, kind))

    # --- result -------------------------------------------------------------------------
    def summary(self) -> TranscriptSummary:
        if self._summary is None:
            self._summary = TranscriptSummary(
                path=str(self.path), kind=self.kind, session_id=self.session_id, cwd=self.cwd,
                first_at=self.first_at, last_at=self.last_at, turn_finished=self.turn_finished,
                last_user_text=self.last_user_text, last_assistant_text=self.last_assistant_text,
                turns=self.turns, turns_finished=self.turns_finished, assistant_messages=self.assistant_messages,
                records=self.records, bad_lines=self.bad_lines, oversize_lines=self.oversize_lines,
                sidechain=bool(self.sidechain), complete=self.complete, size=max(0, self._lines.size),
                recent=tuple(self.recent), tokens=self.tokens.totals if self.complete else None,
            )
        return self._summary


def _text_of(content: Any) -> tuple[str, list[str], bool]:
    """(text, tool summaries, has tool_result) of a message ``content`` (a string or a list of blocks)."""
    if isinstance(content, str):
        return content, [], False
    texts: list[str] = []
    tools: list[str] = []
    tool_result = False
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif btype == "tool_use":
                name = block.get("name") if isinstance(block.get("name"), str) else "?"
                tools.append(f"{name}({_summarise_input(block.get('input'))})")
            elif btype == "tool_result":
                tool_result = True
                inner = block.get("content")
                if isinstance(inner, str):
                    texts.append(inner)
                elif isinstance(inner, list):
                    texts.extend(b["text"] for b in inner if isinstance(b, dict) and isinstance(b.get("text"), str))
    return "\n".join(texts), tools, tool_result


class ClaudeTranscriptReader(TranscriptReader):
    """Claude Code's ``<uuid>.jsonl``: user/assistant/system records; a turn ends with system/turn_duration."""

    kind = "claude-code"

    def _reset_state(self) -> None:
        super()._reset_state()
        self._last_msg_id: str | None = None

    def _record(self, rec: dict[str, Any]) -> None:
        ts = self._stamp(rec)
        cwd = rec.get("cwd")
        if isinstance(cwd, str) and cwd and self.cwd is None:
            self.cwd = cwd
        side = rec.get("isSidechain")
        if side is True:
            if self.sidechain is None:
                self.sidechain = True
            return  # a sub-agent's record: not this session's turn
        if side is False and self.sidechain is None:
            self.sidechain = False
        rtype = rec.get("type")
        if rtype == "user":
            self._user(rec, ts)
        elif rtype == "assistant":
            self._assistant(rec, ts)
        elif rtype == "system":
            subtype = rec.get("subtype") if isinstance(rec.get("subtype"), str) else ""
            if subtype == "turn_duration":
                self.turn_finished = True
                self.turns_finished += 1
            content = rec.get("content")
            self._remember("system", content if isinstance(content, str) else "", (), ts,
                           f"system/{subtype}" if subtype else "system")
        # summary, file-history-snapshot, progress, queue-operation, mode, last-prompt, attachment,
        # and any type we do not know: bookkeeping, skipped.

    def _user(self, rec: dict[str, Any], ts: float | None) -> None:
        message = rec.get("message")
        if not isinstance(message, dict):
            return
        text, _, tool_result = _text_of(message.get("content"))
        if tool_result:
            self.turn_finished = False
            self._remember("tool_result", text, (), ts, "user")
            return
        if rec.get("isMeta") is True or text.lstrip().startswith(_LOCAL_COMMAND_PREFIXES):
            return  # local command chatter: no model turn, no turn_duration follows
        if text.startswith(_INTERRUPTED_PREFIX):
            # An interrupted turn ends here; no turn_duration is written for it.
            self.turn_finished = True
            self._remember("user", text, (), ts, "user")
            return
        self.turns += 1
        self.turn_finished = False
        self.last_user_text = _clean(text)
        self._remember("user", text, (), ts, "user")

    def _assistant(self, rec: dict[str, Any], ts: float | None) -> None:
        message = rec.get("message")
        if not isinstance(message, dict):
            return
        self.turn_finished = False
        self.tokens.claude_message(message)
        msg_id = message.get("id") if isinstance(message.get("id"), str) else None
        text, tools, _ = _text_of(message.get("content"))
        same = msg_id is not None and msg_id == self._last_msg_id
        if not same:
            self.assistant_messages += 1
        self._last_msg_id = msg_id
        if text:
            if same and self.last_assistant_text and self.recent and self.recent[-1].role == "assistant":
                self.last_assistant_text = _clean(self.last_assistant_text + text)
            else:
                self.last_assistant_text = _clean(text)
        self._remember("assistant", text, tools, ts, "assistant")


class CodexTranscriptReader(TranscriptReader):
    """Codex rollouts: ``{timestamp, type, payload}``; session_meta carries id and cwd; task_complete ends a turn."""

    kind = "codex"

    def _default_session_id(self) -> str:
        match = _ROLLOUT_ID_RE.search(self.path.name)
        return match.group(1).lower() if match else self.path.stem

    def _head_record(self, rec: dict[str, Any]) -> None:
        super()._head_record(rec)
        self._meta(rec)

    def _meta(self, rec: dict[str, Any]) -> bool:
        payload = rec.get("payload")
        if rec.get("type") == "session_meta" and isinstance(payload, dict):
            sid = payload.get("id")
            if isinstance(sid, str) and sid:
                self.session_id = sid.lower()
            cwd = payload.get("cwd")
            if isinstance(cwd, str) and cwd and self.cwd is None:
                self.cwd = cwd
            ts = timefmt.parse(payload.get("timestamp"))
            if ts is not None and self.first_at is None and self._believable(ts):
                self.first_at = ts
            return True
        if "type" not in rec and isinstance(rec.get("id"), str) and "payload" not in rec:
            # Older rollouts: a first line {id, timestamp, instructions} without a wrapper.
            self.session_id = rec["id"].lower()
            return True
        return False

    def _record(self, rec: dict[str, Any]) -> None:
        ts = self._stamp(rec)
        if self._meta(rec):
            return
        rtype = rec.get("type")
        payload = rec.get("payload")
        if payload is None and rtype in ("message", "function_call"):
            payload, rtype = rec, "response_item"  # older rollouts: items without the wrapper
        if not isinstance(payload, dict):
            return
        ptype = payload.get("type")
        if rtype == "turn_context":
            cwd = payload.get("cwd")
            if isinstance(cwd, str) and cwd and self.cwd is None:
                self.cwd = cwd
        elif rtype == "event_msg":
            message = payload.get("message") if isinstance(payload.get("message"), str) else ""
            if ptype == "user_message":
                self.turns += 1
                self.turn_finished = False
                self.last_user_text = _clean(message)
                self._remember("user", message, (), ts, "event_msg/user_message")
            elif ptype == "agent_message":
                self.turn_finished = False
                self.assistant_messages += 1
                self.last_assistant_text = _clean(message)
                self._remember("assistant", message, (), ts, "event_msg/agent_message")
            elif ptype == "task_started":
                self.turn_finished = False
            elif ptype == "token_count":
                self.tokens.codex_event(payload)
            elif ptype in ("task_complete", "turn_aborted"):
                self.turn_finished = True
                self.turns_finished += 1
                last = payload.get("last_agent_message")
                if isinstance(last, str) and last:
                    self.last_assistant_text = _clean(last)
                self._remember("system", "", (), ts, f"event_msg/{ptype}")
        elif rtype == "response_item":
            if ptype == "function_call":
                name = payload.get("name") if isinstance(payload.get("name"), str) else "?"
                args = payload.get("arguments")
                try:
                    parsed = json.loads(args) if isinstance(args, str) else args
                except (ValueError, RecursionError):
                    parsed = None
                self._remember("assistant", "", (f"{name}({_summarise_input(parsed)})",), ts, "function_call")
            elif ptype == "message" and payload.get("role") == "assistant" and self.last_assistant_text is None:
                text = "\n".join(b["text"] for b in payload.get("content") or []
                                 if isinstance(b, dict) and isinstance(b.get("text"), str))
                if text:
                    self.last_assistant_text = _clean(text)


class GenericTranscriptReader(TranscriptReader):
    """Any JSONL: ``timestamp``/``ts``/``time``, ``role`` or ``type``, ``text``/``content``/``message``."""

    kind = "generic"

    def _record(self, rec: dict[str, Any]) -> None:
        ts = None
        for key in ("timestamp", "ts", "time"):
            ts = timefmt.parse(rec.get(key))
            if ts is not None and self._believable(ts):
                self.last_at = ts
                if self.first_at is None:
                    self.first_at = ts
                break
        cwd = rec.get("cwd")
        if isinstance(cwd, str) and cwd and self.cwd is None:
            self.cwd = cwd
        role = rec.get("role") if isinstance(rec.get("role"), str) else rec.get("type")
        if not isinstance(role, str):
            return
        text = ""
        for key in ("text", "content", "message"):
            value = rec.get(key)
            if isinstance(value, dict):
                value = value.get("content") if not isinstance(value.get("text"), str) else value["text"]
            if isinstance(value, (str, list)):
                text = _text_of(value)[0]
                break
        if role in ("user", "human"):
            self.turns += 1
            self.last_user_text = _clean(text)
        elif role in ("assistant", "agent", "ai"):
            self.assistant_messages += 1
            self.last_assistant_text = _clean(text)
        else:
            return
        self._remember(role, text, (), ts, role)


# --- discovery ----------------------------------------------------------------------------------


def _scandir(path: str | os.PathLike[str]) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


class TranscriptIndex:
    """Claude Code's sessions under one config dir, discovered per project folder, one reader per file.

    ``refresh(cwds)`` lists only the folders of the given cwds (one ``scandir`` each) and
    updates their readers; ``scan_all()`` walks the whole ``projects`` dir, only when asked.
    Blocking I/O: call from a worker thread.
    """

    QUIET_S = 1.0

    def __init__(self, config_dir: str | os.PathLike[str], *, clock: Callable[[], float] = time.time,
                 max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.config_dir = Path(config_dir)
        self.projects = self.config_dir / "projects"
        self.clock = clock
        self.max_line_bytes = max_line_bytes
        self.readers: dict[str, ClaudeTranscriptReader] = {}        # path -> reader
        self._folders: dict[str, dict[str, str]] = {}                # folder -> {session id: path}
        self._retired_bytes = 0
        self._listed: dict[str, tuple[tuple[int, int], float]] = {}  # folder -> ((ino, mtime_ns), listed at)
        self.folder_scans = 0

    def folder_for(self, cwd: str | os.PathLike[str]) -> Path:
        return self.projects / project_slug(os.fspath(cwd))

    def refresh(self, cwds: Iterable[str | os.PathLike[str]]) -> dict[str, list[TranscriptSummary]]:
        """Summaries of the sessions in each cwd's project folder, keyed by the folder's path."""
        out: dict[str, list[TranscriptSummary]] = {}
        for cwd in cwds:
            folder = str(self.folder_for(cwd))
            if folder not in out:
                out[folder] = self.refresh_folder(folder)
        return out

    def refresh_folder(self, folder: str | os.PathLike[str]) -> list[TranscriptSummary]:
        folder = os.fspath(folder)
        seen = self._list(folder)
        for sid, path in self._folders.get(folder, {}).items():
            if sid not in seen:
                self._retire(path)
        self._folders[folder] = seen
        summaries = []
        for path in seen.values():
            reader = self.readers.get(path)
            if reader is None:
                reader = self.readers[path] = ClaudeTranscriptReader(
                    path, full=False, max_line_bytes=self.max_line_bytes, clock=self.clock)
            reader.update()
            if not reader.gone:
                summaries.append(reader.summary())
        return summaries

    def _list(self, folder: str) -> dict[str, str]:
        """Session id -> path of the folder's transcripts; listed again only when the folder changed.

        A file created or removed changes the folder's mtime. Timestamps are coarse (a few ms), so
        a folder modified within ``QUIET_S`` of the last listing is listed again anyway.
        """
        try:
            st = os.stat(folder)
        except OSError:
            self._listed.pop(folder, None)
            return {}
        ident = (st.st_ino, st.st_mtime_ns)
        known = self._listed.get(folder)
        if known is not None and known[0] == ident and known[1] - st.st_mtime > self.QUIET_S:
            return dict(self._folders.get(folder, {}))
        self.folder_scans += 1
        listed_at = time.time()
        seen: dict[str, str] = {}
        for entry in _scandir(folder):
            if not is_session_file(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
            except OSError:
                continue
            seen[entry.name[:-6].lower()] = entry.path
        self._listed[folder] = (ident, listed_at)
        return seen

    def scan_all(self) -> dict[str, list[TranscriptSummary]]:
        """Every project folder (only when asked: it lists the whole projects dir)."""
        out: dict[str, list[TranscriptSummary]] = {}
        for entry in _scandir(self.projects):
            try:
                if entry.is_dir(follow_symlinks=False):
                    out[entry.path] = self.refresh_folder(entry.path)
            except OSError:
                continue
        return out

    def _retire(self, path: str) -> None:
        reader = self.readers.pop(path, None)
        if reader is not None:
            self._retired_bytes += reader.bytes_read + reader.probe_bytes

    def get(self, folder: str | os.PathLike[str], session_id: str) -> TranscriptSummary | None:
        """The summary of ``session_id`` in ``folder`` as of the last refresh of that folder."""
        path = self._folders.get(os.fspath(folder), {}).get(session_id.lower())
        reader = self.readers.get(path) if path else None
        return reader.summary() if reader is not None and not reader.gone else None

    def reader(self, folder: str | os.PathLike[str], session_id: str) -> ClaudeTranscriptReader | None:
        path = self._folders.get(os.fspath(folder), {}).get(session_id.lower())
        return self.readers.get(path) if path else None

    def locate(self, session_id: str) -> list[Path]:
        """Every ``<folder>/<session_id>.jsonl`` under this config dir (one stat per project folder)."""
        if not _UUID_RE.match(session_id or ""):
            return []
        found = []
        for entry in _scandir(self.projects):
            candidate = Path(entry.path) / f"{session_id.lower()}.jsonl"
            try:
                if entry.is_dir(follow_symlinks=False) and candidate.is_file():
                    found.append(candidate)
            except OSError:
                continue
        return found

    def ensure_full(self, folder: str | os.PathLike[str], session_id: str) -> TranscriptSummary | None:
        """Read ``session_id`` whole (once) if it was only peeked; returns the complete summary."""
        reader = self.reader(folder, session_id)
        if reader is None:
            return None
        if not reader.complete:
            reader.ensure_full()
            reader.update()
        return reader.summary()

    @property
    def bytes_read(self) -> int:
        return self._retired_bytes + sum(r.bytes_read + r.probe_bytes for r in self.readers.values())

    @property
    def bad_lines(self) -> int:
        return sum(r.bad_lines for r in self.readers.values())


class CodexIndex:
    """Codex rollouts under ``$CODEX_HOME/sessions/YYYY/MM/DD/``.

    The whole tree is walked on the first refresh and then every ``rescan_s``; between
    walks only the recent day folders (yesterday, today, tomorrow: local and UTC dates) are
    listed. Readers are updated each refresh for rollouts of the fleet's cwds, of unknown
    cwd, or in a recent folder (``codex resume`` appends to a rollout in an old folder).
    """

    def __init__(self, home: str | os.PathLike[str], *, clock: Callable[[], float] = time.time,
                 rescan_s: float = 300.0, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.home = Path(home)
        self.sessions = self.home / "sessions"
        self.clock = clock
        self.rescan_s = rescan_s
        self.max_line_bytes = max_line_bytes
        self.readers: dict[str, CodexTranscriptReader] = {}
        self._last_walk: float | None = None

    def _recent_dirs(self) -> set[Path]:
        now = self.clock()
        days = set()
        for delta in (-86400, 0, 86400):
            for tz in (None, dt.timezone.utc):
                day = dt.datetime.fromtimestamp(now + delta, tz)
                days.add(self.sessions / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}")
        return days

    def _walk(self) -> Iterator[str]:
        for root, dirs, files in os.walk(self.sessions):
            dirs.sort()
            for name in files:
                if name.startswith("rollout-") and name.endswith(".jsonl"):
                    yield os.path.join(root, name)

    def refresh(self, cwds: Iterable[str] = ()) -> list[TranscriptSummary]:
        wanted = set(cwds)
        now = self.clock()
        recent = self._recent_dirs()
        if self._last_walk is None or now - self._last_walk >= self.rescan_s:
            self._last_walk = now
            paths = set(self._walk())
            for gone in set(self.readers) - paths:
                del self.readers[gone]
        else:
            paths = set()
            for folder in recent:
                for entry in _scandir(folder):
                    if entry.name.startswith("rollout-") and entry.name.endswith(".jsonl"):
                        paths.add(entry.path)
        for path in paths:
            if path not in self.readers:
                self.readers[path] = CodexTranscriptReader(path, full=False, max_line_bytes=self.max_line_bytes,
                                                           clock=self.clock)
                self.readers[path].update()
        out = []
        for path, reader in list(self.readers.items()):
            if reader.cwd is None or reader.cwd in wanted or Path(path).parent in recent:
                reader.update()
            if reader.gone:
                del self.readers[path]
                continue
            out.append(reader.summary())
        return out

    def by_session(self, session_id: str) -> CodexTranscriptReader | None:
        sid = (session_id or "").lower()
        for reader in self.readers.values():
            if reader.session_id == sid:
                return reader
        return None

    def by_path(self, path: str) -> CodexTranscriptReader | None:
        return self.readers.get(path)

    @property
    def bytes_read(self) -> int:
        return sum(r.bytes_read + r.probe_bytes for r in self.readers.values())


class GlobTranscripts:
    """Transcripts of any other agent: the JSONL files a glob pattern finds, re-globbed every ``rescan_s``."""

    def __init__(self, pattern: str, *, clock: Callable[[], float] = time.time, rescan_s: float = 10.0,
                 reader_class: type[TranscriptReader] = GenericTranscriptReader) -> None:
        self.pattern = os.path.expanduser(pattern)
        self.clock = clock
        self.rescan_s = rescan_s
        self.reader_class = reader_class
        self.readers: dict[str, TranscriptReader] = {}
        self._last_glob: float | None = None

    def refresh(self) -> list[TranscriptSummary]:
        now = self.clock()
        if self._last_glob is None or now - self._last_glob >= self.rescan_s:
            self._last_glob = now
            for path in globmod.glob(self.pattern, recursive=True):
                if path not in self.readers and os.path.isfile(path):
                    self.readers[path] = self.reader_class(path, clock=self.clock)
        out = []
        for path, reader in list(self.readers.items()):
            reader.update()
            if reader.gone:
                del self.readers[path]
                continue
            out.append(reader.summary())
        return out


# --- benchmark --------------------------------------------------------------------------------


def _synthetic_records(session_id: str, cwd: str, start: float) -> Iterator[bytes]:
    """Claude-Code-shaped records (user, assistant split over records, turn_duration), forever."""
    parent = None
    n = 0
    filler = "lorem ipsum dolor sit amet " * 40
    while True:
        n += 1
        for rtype, body in (
            ("user", {"message": {"role": "user", "content": f"turn {n}: please look at the tests. {filler}"}}),
            ("assistant", {"message": {"id": f"msg_{n}", "role": "assistant", "model": "m", "content": [
                {"type": "tool_use", "id": f"toolu_{n}", "name": "Read", "input": {"file_path": f"/src/f{n}.py"}}]}}),
            ("user", {"message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": filler * 2}]}}),
            ("assistant", {"message": {"id": f"msg_{n}b", "role": "assistant", "model": "m", "content": [
                {"type": "text", "text": f"done with turn {n}. {filler}"}]}}),
            ("system", {"subtype": "turn_duration", "durationMs": 1234}),
        ):
            uid = str(uuid.uuid4())
            ts = timefmt.iso(start + n)
            rec = {"parentUuid": parent, "isSidechain": False, "type": rtype, **body, "uuid": uid,
                   "timestamp": ts.replace("+00:00", "Z"), "userType": "external", "cwd": cwd,
                   "sessionId": session_id, "version": "2.1.197", "gitBranch": "HEAD"}
            parent = uid
            yield (json.dumps(rec, separators=(",", ":")) + "\n").encode()


def bench_transcript(size_bytes: int, directory: str | os.PathLike[str] | None = None,
                     *, appended_turns: int = 1) -> tuple[float, float]:
    """(first_read_s, incremental_tick_s) for a generated Claude transcript of about ``size_bytes``.

    The first read is one full pass; the tick after ``appended_turns`` new turns were
    appended reads only those bytes (``cockpit bench`` reports both: SPEC §5).
    """
    owned = directory is None
    tmp = tempfile.TemporaryDirectory(prefix="cockpit-bench-") if owned else None
    folder = Path(tmp.name if tmp is not None else directory)  # type: ignore[arg-type]
    sid = str(uuid.uuid4())
    path = folder / f"{sid}.jsonl"
    try:
        records = _synthetic_records(sid, "/bench/cwd", time.time() - 10 * 86400)
        with open(path, "wb") as fh:
            written = 0
            batch: list[bytes] = []
            while written < size_bytes:
                line = next(records)
                batch.append(line)
                written += len(line)
                if len(batch) >= 1000:
                    fh.write(b"".join(batch))
                    batch.clear()
            fh.write(b"".join(batch))
        reader = ClaudeTranscriptReader(path, full=True)
        t0 = time.perf_counter()
        reader.update()
        first = time.perf_counter() - t0
        with open(path, "ab") as fh:
            for _ in range(5 * appended_turns):
                fh.write(next(records))
        t0 = time.perf_counter()
        reader.update()
        tick = time.perf_counter() - t0
        return first, tick
    finally:
        try:
            path.unlink()
        except OSError:
            pass
        if tmp is not None:
            tmp.cleanup()

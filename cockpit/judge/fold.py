"""The agent that folds under pressure (seed #11): a reversal right after a pushback, with no re-read.

In an agent's transcript, a *pushback* is a user text record that follows an assistant text (a
recommendation stands and the user answers it). The assistant's turn that follows — every record up
to the next user text — folds when one of its texts contains a configured phrase (``you're right``,
``fair point``, ``scrap mine``; case-insensitive, straight or curly apostrophe, any whitespace) and
no file read or search happened between the pushback and the phrase: no ``tool_use`` named
``Read``/``Grep``/``Glob``/``NotebookRead``/``WebFetch``/``WebSearch``/``LS`` (or an MCP tool that
reads or searches), and no shell tool (``Bash``, Codex ``shell``...) running ``cat``/``grep``/
``rg``/``sed -n``/``git show``... A reversal after a re-read is an update, not a fold. One fold is
reported per pushback at most.

Layout: :func:`claude_events`/:func:`codex_events` turn one record into flat turn events (pure);
:class:`FoldDetector` is the state machine over events (pure); :func:`judge_folds` turns recent
folds into ``fold_under_pressure`` findings (pure, time passed in); :class:`FoldTracker` at the
bottom keeps a detector per agent, fed the new records the fold reader
(``cockpit.observe.folds``) found in the agent's current transcript. No I/O here.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shlex
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any, Iterable, Mapping, Sequence

from cockpit import timefmt
from cockpit.codex_format import CodexItem
from cockpit.findings import Finding, Severity

__all__ = [
    "FOLD_PHRASES",
    "FOLD_WINDOW_S",
    "Fold",
    "FoldDetector",
    "FoldTracker",
    "PhraseMatcher",
    "TurnEvent",
    "claude_events",
    "codex_events",
    "detect_folds",
    "is_reread",
    "judge_folds",
]

# seed #11: the phrases that preceded unjustified reversals (the spec's list).
FOLD_PHRASES: tuple[str, ...] = ("you're right", "fair point", "scrap mine")
FOLD_WINDOW_S = 3600.0      # a fold stays a finding this long after its reply (the journal keeps it for good)
FOLDS_SHOWN_PER_AGENT = 3   # the newest folds of one agent shown as findings
QUOTE_CHARS = 400           # each turn's text kept as evidence
KEEP_PER_AGENT = 20         # folds remembered per agent

READ_TOOLS = frozenset({"Read", "Grep", "Glob", "NotebookRead", "WebFetch", "WebSearch", "LS"})
SHELL_TOOLS = frozenset({"Bash", "shell", "local_shell", "exec_command", "shell_command", "container.exec",
                         "run_command", "run_shell_command", "unified_exec"})
# MCP and other agents' tools that read or search: mcp__fs__read_file, read_file, grep_files, list_dir...
_READ_NAME_RE = re.compile(r"(?:^|[_.\-])(?:read|grep|glob|search|fetch|view|list_dir|cat)(?:$|[_.\-])", re.I)
READ_COMMANDS = frozenset({
    "cat", "head", "tail", "less", "more", "grep", "egrep", "fgrep", "rg", "ag", "ack", "sed", "awk", "find",
    "fd", "ls", "tree", "nl", "bat", "batcat", "jq", "yq", "wc", "view", "file", "stat", "diff", "cut", "sort",
    "uniq", "xxd", "od", "strings", "readlink", "realpath",
})
GIT_READS = frozenset({"show", "log", "diff", "grep", "blame", "cat-file", "ls-files", "ls-tree", "status"})
_WRAPPERS = frozenset({"sudo", "time", "nice", "env", "command", "builtin", "exec", "xargs", "timeout", "nohup"})
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh"})
_SEGMENT_RE = re.compile(r"&&|\|\||[;|\n]")
_APOSTROPHES = "'\u2019\u2018\u02bc\u2032`"
_USER_SKIP_PREFIXES = ("<command-name>", "<command-message>", "<command-args>", "<local-command-stdout>",
                       "<local-command-stderr>", "<local-command-caveat>", "<system-reminder>",
                       "[Request interrupted by user", "Caveat: The messages below")
_MAX_SHELL_DEPTH = 3


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TurnEvent:
    """One step of a conversation, flattened from a record's content blocks (in their order)."""
    role: str                   # user | assistant | tool | tool_result
    text: str = ""              # user/assistant text
    tool: str | None = None     # the tool's name (role tool)
    detail: str = ""            # the tool's target: file path, pattern, command, url
    at: float | None = None
    uid: str | None = None      # the record's uuid, when it has one


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _tool_detail(value: Any) -> str:
    """The part of a tool's input that says what it touched (a path, a pattern, a command)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)  # Codex passes arguments as a JSON string
        except (ValueError, RecursionError):
            return value[:500]
    if not isinstance(value, dict):
        return ""
    for key in ("command", "cmd", "file_path", "path", "notebook_path", "pattern", "url", "query"):
        item = value.get(key)
        if isinstance(item, str) and item:
            return item[:500]
        if isinstance(item, list) and item and all(isinstance(x, str) for x in item):
            return shlex.join(item)[:500]
    return ""


def _user_text(text: str) -> str | None:
    text = text.strip()
    if not text or text.startswith(_USER_SKIP_PREFIXES):
        return None
    return text


def claude_events(rec: Any) -> list[TurnEvent]:
    """Turn events of one Claude Code record; [] for bookkeeping, sub-agents' records and bad shapes."""
    if not isinstance(rec, dict) or rec.get("isSidechain") is True:
        return []
    rtype = rec.get("type")
    message = rec.get("message")
    if rtype not in ("user", "assistant") or not isinstance(message, dict):
        return []
    at = timefmt.parse(rec.get("timestamp"))
    uid = rec.get("uuid") if isinstance(rec.get("uuid"), str) else None
    content = message.get("content")
    blocks: list[Any] = [{"type": "text", "text": content}] if isinstance(content, str) else (
        content if isinstance(content, list) else [])
    if rtype == "user":
        if rec.get("isMeta") is True or rec.get("isCompactSummary") is True:
            return []
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
            return [TurnEvent("tool_result", at=at, uid=uid)]
        text = _user_text("\n".join(_str(b.get("text")) for b in blocks
                                    if isinstance(b, dict) and b.get("type") == "text"))
        return [] if text is None else [TurnEvent("user", text, at=at, uid=uid)]
    events = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text" and _str(block.get("text")).strip():
            events.append(TurnEvent("assistant", block["text"], at=at, uid=uid))
        elif btype in ("tool_use", "server_tool_use"):
            name = _str(block.get("name")) or "?"
            events.append(TurnEvent("tool", tool=name, detail=_tool_detail(block.get("input")), at=at, uid=uid))
    return events


def codex_events(rec: Any) -> list[TurnEvent]:
    """Turn events of one Codex rollout line (``event_msg`` messages, ``response_item`` tool calls)."""
    item = CodexItem.of(rec)
    if item is None:
        return []
    if item.kind == "user":
        text = _user_text(item.text)
        return [] if text is None else [TurnEvent("user", text, at=item.at)]
    if item.kind == "assistant":
        return [TurnEvent("assistant", item.text, at=item.at)]
    if item.kind == "tool":
        name = item.name or ("shell" if item.call == "local_shell_call" else item.call)
        return [TurnEvent("tool", tool=name, detail=_tool_detail(item.args), at=item.at)]
    return []


# --- what counts as a re-read -------------------------------------------------------------------


def _command_reads(command: str, depth: int = 0) -> bool:
    """A shell command line that reads or searches files (``cat``, ``rg``, ``sed -n``, ``git show``...)."""
    if depth > _MAX_SHELL_DEPTH:
        return False
    for segment in _SEGMENT_RE.split(command):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        while len(words) > 1 and (words[0] in _WRAPPERS or words[0].startswith("-") or words[0].isdigit()
                                  or ("=" in words[0] and not words[0].startswith("="))):
            words = words[1:]  # VAR=x, sudo, env, timeout 5 ... and their options
        if not words:
            continue
        program = posixpath.basename(words[0])
        if program in _SHELLS:
            for i, word in enumerate(words[1:], 1):
                if word.startswith("-") and "c" in word and i + 1 < len(words):
                    if _command_reads(words[i + 1], depth + 1):
                        return True
                    break
            continue
        if program == "git":
            sub = next((w for w in words[1:] if not w.startswith("-")), "")
            if sub in GIT_READS:
                return True
            continue
        if program == "sed" and any(w == "-i" or w.startswith("-i") for w in words[1:]):
            continue  # an in-place edit, not a read
        if program in READ_COMMANDS:
            return True
    return False


def is_reread(event: TurnEvent) -> bool:
    """A tool call that re-opens the basis: a file read, a search, a fetch, or a shell read."""
    if event.role != "tool" or not event.tool:
        return False
    if event.tool in READ_TOOLS:
        return True
    if event.tool in SHELL_TOOLS:
        return _command_reads(event.detail)
    return bool(_READ_NAME_RE.search(event.tool))


# --- phrases ------------------------------------------------------------------------------------


class PhraseMatcher:
    """Configured phrases, case-insensitive, any apostrophe, any whitespace, on word boundaries."""

    def __init__(self, phrases: Iterable[str] = FOLD_PHRASES) -> None:
        self.phrases = tuple(p for p in phrases if p.strip())
        apostrophe = "[" + re.escape(_APOSTROPHES) + "]"
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for phrase in self.phrases:
            words = phrase.strip().split()
            body = r"\s+".join(
                "".join(apostrophe if ch in _APOSTROPHES else re.escape(ch) for ch in word) for word in words)
            self._patterns.append((phrase, re.compile(r"(?<!\w)" + body + r"(?!\w)", re.I)))

    def search(self, text: str) -> tuple[str, int, int] | None:
        """(the configured phrase, start, end) of the earliest phrase in ``text``; None when none is there."""
        best: tuple[str, int, int] | None = None
        for phrase, pattern in self._patterns:
            match = pattern.search(text)
            if match and (best is None or match.start() < best[1]):
                best = (phrase, match.start(), match.end())
        return best


# --- the detector -------------------------------------------------------------------------------


def _cut(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(text: str, start: int, end: int, around: int = 80) -> str:
    """The phrase with some context either side, on one line."""
    left = max(0, start - around)
    right = min(len(text), end + around)
    snippet = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + snippet + ("…" if right < len(text) else "")


@dataclass(frozen=True)
class Fold:
    """One fold: the pushback, the reply that folded, the phrase and what happened in between."""
    id: str
    phrase: str
    quote: str
    pushback: str
    reply: str
    pushback_at: float | None = None
    reply_at: float | None = None
    tools_between: tuple[str, ...] = ()     # tools used between pushback and phrase (none of them a read)
    session_id: str | None = None
    path: str | None = None
    seen_at: float | None = None            # when the cockpit read it (stamped by FoldTracker)

    @property
    def at(self) -> float | None:
        return self.reply_at if self.reply_at is not None else self.seen_at

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "phrase": self.phrase, "quote": self.quote,
                "pushback": {"text": self.pushback, "at": self.pushback_at},
                "reply": {"text": self.reply, "at": self.reply_at},
                "tools_between": list(self.tools_between), "session_id": self.session_id,
                "transcript": self.path, "seen_at": self.seen_at}


class FoldDetector:
    """The state machine over turn events. Pure: feed events in order, get a Fold when one happens."""

    def __init__(self, matcher: PhraseMatcher | None = None, *, session_id: str | None = None,
                 path: str | None = None) -> None:
        self.matcher = matcher or PhraseMatcher()
        self.session_id = session_id
        self.path = path
        self.reset()

    def reset(self) -> None:
        self._said = False                      # an assistant text since the last user text
        self._pushback: TurnEvent | None = None
        self._reread: TurnEvent | None = None
        self._tools: list[str] = []
        self._reported = False

    def feed(self, event: TurnEvent) -> Fold | None:
        if event.role == "user":
            self._pushback = event if self._said else None
            self._said = False
            self._reread = None
            self._tools = []
            self._reported = False
            return None
        if event.role == "tool":
            if self._pushback is not None and self._reread is None:
                if is_reread(event):
                    self._reread = event
                elif len(self._tools) < 10:
                    self._tools.append(f"{event.tool}({_cut(event.detail, 80)})" if event.detail else str(event.tool))
            return None
        if event.role != "assistant" or not event.text.strip():
            return None
        self._said = True
        if self._pushback is None or self._reread is not None or self._reported:
            return None
        found = self.matcher.search(event.text)
        if found is None:
            return None
        self._reported = True
        phrase, start, end = found
        pushback = self._pushback
        fid = event.uid or hashlib.sha1(
            f"{self.path}\0{event.at}\0{pushback.text[:200]}\0{event.text[:200]}".encode("utf-8", "replace")
        ).hexdigest()[:16]
        return Fold(id=fid, phrase=phrase, quote=_quote(event.text, start, end), pushback=_cut(pushback.text),
                    reply=_cut(event.text), pushback_at=pushback.at, reply_at=event.at,
                    tools_between=tuple(self._tools), session_id=self.session_id, path=self.path)


def detect_folds(events: Iterable[TurnEvent], phrases: Iterable[str] = FOLD_PHRASES, *,
                 session_id: str | None = None, path: str | None = None) -> list[Fold]:
    """Every fold in a sequence of events (pure)."""
    detector = FoldDetector(PhraseMatcher(phrases), session_id=session_id, path=path)
    return [fold for event in events if (fold := detector.feed(event)) is not None]


# --- the judge ----------------------------------------------------------------------------------


def judge_folds(folds: Mapping[str, Sequence[Fold]], now: float, *, window_s: float = FOLD_WINDOW_S,
                per_agent: int = FOLDS_SHOWN_PER_AGENT) -> list[Finding]:
    """``fold_under_pressure`` (warning) for each agent's newest folds of the last ``window_s``."""
    findings: list[Finding] = []
    for agent, agent_folds in folds.items():
        recent = [f for f in agent_folds if f.at is not None and now - window_s <= f.at <= now + 60.0]
        for fold in recent[-per_agent:]:
            findings.append(Finding(
                kind="fold_under_pressure", severity=Severity.WARNING, agent=agent, subject=f"fold:{fold.id}",
                summary=(f"{agent}: folded under pressure: \u201c{fold.phrase}\u201d right after a pushback, "
                         f"without re-reading anything: {_cut(fold.quote, 120)}"),
                evidence={**fold.to_json(), "window_s": window_s},
            ))
    return findings


# --- the tracker (pure, with memory): fed by the fold reader ---------------------------------------


def record_session_id(rec: Any) -> str | None:
    """The session id a record names (Claude: every record; Codex: the session_meta payload's id)."""
    if not isinstance(rec, dict):
        return None
    sid = rec.get("sessionId")
    if not isinstance(sid, str) and rec.get("type") == "session_meta" and isinstance(rec.get("payload"), dict):
        sid = rec["payload"].get("id")
    return sid if isinstance(sid, str) and sid else None


@dataclass
class _Watched:
    kind: str
    path: str
    detector: FoldDetector
    ids: set[str] = field(default_factory=set)


class FoldTracker:
    """Per agent, a :class:`FoldDetector` over its current transcript's records, and the folds found so far.

    ``feed(feeds, now)`` takes agent -> the fold reader's feed (``cockpit.observe.folds``: kind, path,
    the records since the last read, whether the file started over; None: unknown this tick, keep
    what we have) and returns agent -> folds, oldest first. A file read again from the start gets a
    fresh detector; the folds it finds again are dropped by id.
    """

    def __init__(self, phrases: Iterable[str] = FOLD_PHRASES) -> None:
        self.matcher = PhraseMatcher(phrases)
        self._watched: dict[str, _Watched] = {}
        self._folds: dict[str, deque[Fold]] = {}

    def _detector(self, path: str) -> FoldDetector:
        return FoldDetector(self.matcher, session_id=PurePath(path).stem, path=path)

    def feed(self, feeds: Mapping[str, Any], now: float) -> dict[str, tuple[Fold, ...]]:
        for name in list(self._watched):
            if name not in feeds:
                del self._watched[name]
                self._folds.pop(name, None)
        for name, feed in feeds.items():
            if feed is None:
                continue
            watched = self._watched.get(name)
            if watched is None or watched.path != feed.path or watched.kind != feed.kind:
                watched = self._watched[name] = _Watched(feed.kind, feed.path, self._detector(feed.path))
            elif feed.rewound:  # replaced or rewritten: the conversation is read again from the start
                watched.detector = self._detector(feed.path)
            folds = self._folds.setdefault(name, deque(maxlen=KEEP_PER_AGENT))
            for fold in self._detect(watched, feed.records):
                if fold.id in watched.ids:
                    continue
                if len(watched.ids) >= 4 * KEEP_PER_AGENT:  # a hostile transcript must not grow it forever
                    watched.ids = {f.id for f in folds}
                watched.ids.add(fold.id)
                folds.append(replace(fold, seen_at=now))
        return self.folds()

    @staticmethod
    def _detect(watched: _Watched, records: Iterable[Any]) -> list[Fold]:
        extract = codex_events if watched.kind == "codex" else claude_events
        detector = watched.detector
        found: list[Fold] = []
        for rec in records:
            sid = record_session_id(rec)
            if sid is not None and sid != detector.session_id:
                detector.session_id = sid[:64]
            for event in extract(rec):
                fold = detector.feed(event)
                if fold is not None:
                    found.append(fold)
        return found[-KEEP_PER_AGENT:]

    def folds(self) -> dict[str, tuple[Fold, ...]]:
        return {name: tuple(folds) for name, folds in self._folds.items()}

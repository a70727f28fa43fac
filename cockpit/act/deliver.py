"""Delivering reminders (seed #6): ``notice`` tells the humans, ``wake`` drives the agent — and is verified.

The production bug: the "tell the user" write and the "wake the agent" write were one primitive,
and the agent ignored it by design. Here they are two verbs that share nothing but the queue:

- **notice**: a journal row (the TUI toasts it from the report) and ``notice_command`` (an argv,
  never a shell, the reminder as JSON on stdin, killed after ``NOTICE_TIMEOUT_S``). It never
  touches an agent's pane.
- **wake**: the text is typed into the agent's pane with tmux literal ``send-keys -l``, then Enter
  as a separate key after ``ENTER_DELAY_S``, and the wake counts as delivered only when the agent
  shows it picked it up within ``wake_verify_s``: a NEW user record containing the text in its
  current transcript (a record read after the firing, timestamped after it), or its live-session
  status going ``busy`` after the firing. Otherwise: ``missed`` with the evidence (what was typed,
  into which pane, what the transcript and live file showed), retried ``wake_retries`` times with
  backoff, then one alert (``alert_command``) with the ``missed_wake`` finding.

What is typed (:func:`typed_text`, documented transformation; verification looks for this form):

1. every run of control characters (newline, CR, tab, ESC, DEL, C1, U+2028/2029) becomes one
   space: Enter is the only submit key, so a reminder is one line, one turn; a tab would be eaten
   by completion and an ESC would cancel the agent's turn (both seen in Claude Code 2.1.197);
2. surrounding whitespace is stripped;
3. a text starting with ``!`` or ``/`` gets one leading space: at an empty Claude Code prompt ``!``
   switches to bash mode (``!touch X`` typed by tmux RAN ``touch X``) and ``/`` starts a slash
   command (``/exit``, ``/clear``); with the space both arrive as plain prompt text.

Quotes, ``;``, ``$(...)`` and backticks need nothing: ``send-keys -l`` types them as characters and
no shell ever sees them. The Enter is sent separately because Claude Code reads a long text with
the Enter in the same burst as a paste holding a newline, and does not submit it (seen: 1 KB of
text + Enter in one tmux command stayed in the input box as ``[Pasted text #1 +1 lines]``; 0.1 s
between them submitted it).

A wake is not typed while the agent needs input (live status ``waiting``: the Enter would answer
its permission prompt) or is busy (it would be queued behind a turn that may outlast the
verification window): the reminder waits and says why. An agent that is down is respawned first
only when the reminder asks (``respawn_if_down``, through the action layer's verified respawn, at
the rate limit); otherwise the reminder waits ("agent down").

Verification never blocks the event loop: file reads run in worker threads and the polling
sleeps with ``asyncio.sleep``; each attempt runs in its own task, so ticks go on meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit import timefmt
from cockpit.act.hooks import run_json_command
from cockpit.claude_paths import live_session_path, transcript_path
from cockpit.config import AgentConfig, Config
from cockpit.judge.plan import SETTLE, Intent, wake_missed
from cockpit.locks import LockTimeout, agent_lock_path, ahold
from cockpit.observe.transcripts import ClaudeTranscriptReader, CodexTranscriptReader, TranscriptReader
from cockpit.registry import Tail
from cockpit.reminders import Reminder, ReminderQueue, retry_delay_s
from cockpit.tmux import TmuxClient, TmuxError

__all__ = [
    "ENTER_DELAY_S",
    "NOTICE_TIMEOUT_S",
    "ReminderPass",
    "Typist",
    "Verdict",
    "WakeTarget",
    "WakeWatch",
    "resolve_target",
    "text_matches",
    "type_wake",
    "typed_text",
    "verify_wake",
]

ENTER_DELAY_S = 0.4        # text, then Enter as its own burst (see the module docstring)
NOTICE_TIMEOUT_S = 30.0
HOOK_SOURCE = "hook:"      # a wake matched by its UserPromptSubmit hook (SPEC §8), not a transcript record
CONFIRM_S = 2.0            # after a busy status, how long to wait for the transcript's record too
TS_SLACK_S = 1.0           # agents stamp records in ms; a record this much before the firing still counts
READY_TIMEOUT_S = 30.0     # after a respawn, how long to wait for the agent's prompt (live file idle)
EVIDENCE_PROMPTS = 5
_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_AGENT_PREFIXES = ("!", "/")


# --- what is typed ------------------------------------------------------------------------------


def typed_text(text: str) -> str:
    """The reminder text as it is typed into a pane (see the module docstring, rules 1-3)."""
    line = _CONTROL_RUN.sub(" ", text).strip()
    return " " + line if line.startswith(_AGENT_PREFIXES) else line


def _squash(text: str) -> str:
    return " ".join(text.split())


def text_matches(record_text: str, typed: str) -> bool:
    """A user record holds the typed reminder (exactly, or up to whitespace the agent may have folded)."""
    needle = typed.strip()
    if not needle or not record_text:
        return False
    return needle in record_text or _squash(needle) in _squash(record_text)


async def type_wake(tmux: TmuxClient, pane_id: str, typed: str, *, enter_delay_s: float = ENTER_DELAY_S) -> None:
    """Type literally (``send-keys -l``: no key names, no shell), then Enter as its own burst."""
    await tmux.send_literal(pane_id, typed, enter=False)
    await asyncio.sleep(enter_delay_s)
    await tmux.send_literal(pane_id, "", enter=True)


# --- the target: where the agent shows it woke ------------------------------------------------


@dataclass(frozen=True)
class WakeTarget:
    """One agent as a wake sees it now: its pane, and where its pickup would show."""
    agent: str
    kind: str
    pane_id: str | None
    pid: int | None
    down: bool
    live_file: str | None = None
    status: str | None = None             # live-session status: busy | idle | waiting (None: no live file)
    waiting_for: str | None = None
    session_id: str | None = None
    transcripts: tuple[str, ...] = ()     # the current transcript first (it may not exist before a first turn)

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "kind": self.kind, "pane": self.pane_id, "pid": self.pid, "down": self.down,
                "live_file": self.live_file, "status": self.status, "waiting_for": self.waiting_for,
                "session_id": self.session_id, "transcripts": list(self.transcripts)}


def _read_json(path: str | os.PathLike[str], limit: int = 64 << 10) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            value = json.loads(fh.read(limit))
    except (OSError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def agent_claude_dir(config: Config, agent: AgentConfig) -> Path:
    """The agent's Claude config dir: its env's CLAUDE_CONFIG_DIR, else ``[claude].config_dir``."""
    value = agent.env.get("CLAUDE_CONFIG_DIR")
    return Path(value).expanduser() if value else Path(config.claude.config_dir).expanduser()


def _live_of(tree: Iterable[Any], config_dir: Path) -> tuple[str, dict[str, Any]] | None:
    """The live-session file of a process of the pane tree (pid AND procStart match), shallowest first."""
    for proc in tree:
        path = live_session_path(config_dir, proc.pid)
        data = _read_json(path)
        if data is None or str(data.get("pid")) != str(proc.pid):
            continue
        start = data.get("procStart")
        if start is not None and str(start) != str(proc.start):
            continue  # a reused pid: another process's file
        return str(path), data
    return None


def resolve_target(agent: AgentConfig, obs: Any, *, config_dir: Path, truth: Any = None) -> WakeTarget:
    """Where to type and where to look, from a fresh observation (blocking: reads live files)."""
    pane = getattr(obs, "pane", None)
    proc = getattr(obs, "proc", None)
    down = obs is None or pane is None or pane.dead or proc is None
    transcripts: list[str] = []
    live_file = status = waiting_for = session_id = None
    found = None if down else _live_of(getattr(obs, "tree", ()) or (proc,), config_dir)
    if found is not None:
        live_file, data = found
        status = data.get("status") if isinstance(data.get("status"), str) else None
        waiting_for = data.get("waitingFor") if isinstance(data.get("waitingFor"), str) else None
        sid, cwd = data.get("sessionId"), data.get("cwd")
        if isinstance(sid, str) and sid:
            session_id = sid
            if isinstance(cwd, str) and cwd:
                transcripts.append(str(transcript_path(config_dir, cwd, sid)))
    summary = getattr(truth, "transcript", None)
    if summary is not None and getattr(summary, "path", None):
        transcripts.append(summary.path)
    disk = getattr(truth, "disk_session", None)
    if disk and agent.kind == "claude-code":
        session_id = session_id or disk
        transcripts.append(str(transcript_path(config_dir, os.path.expanduser(str(agent.cwd)), disk)))
    return WakeTarget(agent.name, agent.kind, pane.pane_id if pane is not None else None,
                      None if down else proc.pid, down, live_file, status, waiting_for, session_id,
                      tuple(dict.fromkeys(transcripts)))


# --- watching for the pickup --------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


class _ClaudePrompts(ClaudeTranscriptReader):
    """Claude Code's transcript, keeping the full text of each new prompt (the summary clips it)."""

    def _reset_state(self) -> None:
        super()._reset_state()
        self.prompts: list[tuple[float | None, str]] = []

    def _user(self, rec: dict[str, Any], ts: float | None) -> None:
        before = self.turns
        super()._user(rec, ts)
        if self.turns > before:
            message = rec.get("message")
            self.prompts.append((ts, _content_text(message.get("content") if isinstance(message, dict) else None)))


class _CodexPrompts(CodexTranscriptReader):
    def _reset_state(self) -> None:
        super()._reset_state()
        self.prompts: list[tuple[float | None, str]] = []

    def _record(self, rec: dict[str, Any]) -> None:
        before = self.turns
        super()._record(rec)
        if self.turns > before:
            payload = rec.get("payload") if isinstance(rec.get("payload"), dict) else {}
            message = payload.get("message")
            self.prompts.append((timefmt.parse(rec.get("timestamp")), message if isinstance(message, str) else ""))


def _prompt_reader(kind: str, path: str) -> TranscriptReader:
    # A generic agent has a transcript only while a claude runs in its pane (the session truth's rule).
    cls = _CodexPrompts if kind == "codex" else _ClaudePrompts
    return cls(path, full=False)


@dataclass(frozen=True)
class Seen:
    """One look at the agent after a wake."""
    match: tuple[str, float | None, str] | None   # (transcript, record time, record text)
    status: str | None
    status_changed_at: float | None
    went_busy: bool
    live_file: str | None
    prompts: tuple[tuple[str, float | None, str], ...] = ()   # other new prompts seen (evidence)


class WakeWatch:
    """What the agent shows after a wake: new prompts in its transcripts, its live-session status.

    ``baseline()`` (before typing) moves each known transcript's reader to the file's end, so only
    records appended after the firing are considered; a transcript first seen later (a new
    session) is read whole, and only records stamped after the firing count. Blocking file I/O:
    call from a worker thread.
    """

    def __init__(self, target: WakeTarget, typed: str, *, config_dir: Path | None = None,
                 events: Path | None = None) -> None:
        self.target = target
        self.typed = typed
        self.config_dir = config_dir
        # SPEC §8: with hooks on, the UserPromptSubmit carrying the text verifies the wake (the agent's events file)
        self.events = Tail(events) if events is not None else None
        self.readers: dict[str, TranscriptReader] = {}
        self.status_before = target.status
        self.prompts: list[tuple[str, float | None, str]] = []  # every new prompt seen (bounded)
        self.checks = 0
        self.bytes_read = 0

    def _reader(self, path: str) -> TranscriptReader:
        reader = self.readers.get(path)
        if reader is None:
            reader = self.readers[path] = _prompt_reader(self.target.kind, path)
        return reader

    def baseline(self) -> None:
        if self.events is not None:
            self.events.read_new()  # only prompts submitted from now on
        for path in self.target.transcripts:
            reader = self._reader(path)
            reader.update()
            reader.prompts.clear()  # type: ignore[attr-defined]

    def _paths(self, live: Mapping[str, Any] | None) -> list[str]:
        paths = list(self.target.transcripts)
        if live is not None and self.config_dir is not None:
            sid, cwd = live.get("sessionId"), live.get("cwd")
            if isinstance(sid, str) and sid and isinstance(cwd, str) and cwd:
                current = str(transcript_path(self.config_dir, cwd, sid))
                if current not in paths:
                    paths.insert(0, current)  # the agent moved to another session (/clear): follow it
        return paths

    def check(self, since: float) -> Seen:
        """Read what was appended; a match is a new prompt holding the typed text, stamped after ``since``."""
        self.checks += 1
        live = _read_json(self.target.live_file) if self.target.live_file else None
        if live is not None and str(live.get("pid")) != str(self.target.pid):
            live = None
        hooked = self._hook_match(since)  # SPEC §8: its UserPromptSubmit; a transcript record seen too is kept first
        match = None
        for path in self._paths(live):
            reader = self._reader(path)
            before = reader.bytes_read
            reader.update()
            self.bytes_read += reader.bytes_read - before
            prompts = reader.prompts  # type: ignore[attr-defined]
            for ts, text in prompts:
                if ts is not None and ts < since - TS_SLACK_S:
                    continue  # an old record of a transcript read for the first time
                if match is None and text_matches(text, self.typed):
                    match = (path, ts, text)
                else:
                    self.prompts.append((path, ts, text[:300]))
            prompts.clear()
        del self.prompts[:-EVIDENCE_PROMPTS]
        match = match or hooked
        status = live.get("status") if live is not None and isinstance(live.get("status"), str) else None
        changed = None
        if live is not None:
            raw = live.get("statusUpdatedAt", live.get("updatedAt"))
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                changed = float(raw) / 1000.0
        went_busy = status == "busy" and (self.status_before != "busy"
                                          or (changed is not None and changed >= since - TS_SLACK_S))
        return Seen(match=match, status=status, status_changed_at=changed, went_busy=went_busy,
                    live_file=self.target.live_file if live is not None else None, prompts=tuple(self.prompts))

    def _hook_match(self, since: float) -> tuple[str, float | None, str] | None:
        """The UserPromptSubmit hook whose prompt holds the typed text, submitted after ``since``."""
        if self.events is None:
            return None
        match = None
        for row in self.events.read_new().rows:
            prompt, ts = row.get("prompt"), timefmt.parse(row.get("ts"))
            if row.get("event") != "UserPromptSubmit" or not isinstance(prompt, str):
                continue
            if ts is not None and ts >= since - TS_SLACK_S and match is None and text_matches(prompt, self.typed):
                match = (HOOK_SOURCE + str(self.events.path), ts, prompt)
        return match

    def evidence(self, last: Seen | None) -> dict[str, Any]:
        summaries = {}
        for path, reader in self.readers.items():
            s = reader.summary()
            summaries[path] = {"exists": not reader.gone and s.size > 0, "last_user_text": s.last_user_text,
                               "last_at": s.last_at, "turns_read": s.turns}
        return {
            "transcripts": summaries,
            "new_prompts": [{"transcript": p, "timestamp": ts, "text": t} for p, ts, t in self.prompts],
            "live_file": self.target.live_file,
            "status_before": self.status_before,
            "status_after": last.status if last is not None else None,
            "status_changed_at": last.status_changed_at if last is not None else None,
            "checks": self.checks,
        }


@dataclass(frozen=True)
class Verdict:
    delivered: bool
    via: str | None               # hook | transcript | live-status
    latency_s: float | None
    evidence: dict[str, Any] = field(default_factory=dict)


async def verify_wake(watch: WakeWatch, *, fired_at: float, verify_s: float,
                      clock: Callable[[], float] = time.time, confirm_s: float = CONFIRM_S,
                      first_poll_s: float = 0.05, max_poll_s: float = 0.5) -> Verdict:
    """Poll (worker thread + asyncio.sleep) until the agent shows the wake or ``verify_s`` passed.

    A matching transcript record decides at once; a busy status alone decides after ``confirm_s``
    more (the record usually follows within milliseconds and is the stronger evidence).
    """
    deadline = fired_at + verify_s
    busy_at: float | None = None
    delay = first_poll_s
    seen: Seen | None = None
    while True:
        seen = await asyncio.to_thread(watch.check, fired_at)
        now = clock()
        if seen.match is not None:
            path, ts, text = seen.match
            latency = max(0.0, (ts if ts is not None else now) - fired_at)
            evidence = {**watch.evidence(seen), "record": {"transcript": path, "timestamp": ts, "text": text[:600]},
                        "went_busy": seen.went_busy or busy_at is not None}
            return Verdict(True, "hook" if path.startswith(HOOK_SOURCE) else "transcript", latency, evidence)
        if seen.went_busy and busy_at is None:
            busy_at = seen.status_changed_at if seen.status_changed_at and seen.status_changed_at >= fired_at else now
        if busy_at is not None and now >= min(deadline, busy_at + confirm_s):
            evidence = {**watch.evidence(seen), "went_busy": True, "record": None}
            return Verdict(True, "live-status", max(0.0, busy_at - fired_at), evidence)
        if now >= deadline:
            return Verdict(False, None, None, {**watch.evidence(seen), "went_busy": False, "record": None})
        await asyncio.sleep(max(0.0, min(delay, deadline - now)))
        delay = min(delay * 2, max_poll_s)


# --- notice -------------------------------------------------------------------------------------


# --- the pass -----------------------------------------------------------------------------------


class Typist:
    """What a wake and the operator's send share: the parts that type into an agent's pane, and the
    look at where the agent would show it picked the text up. ``actions`` is the ActionLayer
    (read-only refusal, the journal, the rate limit, the verified respawn, the alert)."""

    def __init__(self, config: Config, actions: Any, *, tmux: TmuxClient, observe: Callable[[], Awaitable[Any]],
                 sessions: Any = None, clock: Callable[[], float] = time.time, actor: str = "cockpit",
                 enter_delay_s: float = ENTER_DELAY_S) -> None:
        self.config = config
        self.actions = actions
        self.tmux = tmux
        self.observe = observe
        self.sessions = sessions
        self.clock = clock
        self.actor = actor
        self.enter_delay_s = enter_delay_s

    def _config_dir(self, agent: AgentConfig) -> Path:
        if self.sessions is not None:
            return Path(self.sessions.claude_dir(agent))
        return agent_claude_dir(self.config, agent)

    async def _target(self, agent: AgentConfig, snapshot: Any = None) -> WakeTarget:
        """The agent as it is now (``snapshot``: this tick's observation, else observed afresh)."""
        if snapshot is None:
            snapshot = await self.observe()
        obs = snapshot.agents.get(agent.name) if snapshot.tmux_ok else None
        truth = self.sessions.truth(agent.name) if self.sessions is not None else None
        return await asyncio.to_thread(resolve_target, agent, obs, config_dir=self._config_dir(agent), truth=truth)

    def _watch(self, agent: AgentConfig, target: WakeTarget, typed: str) -> WakeWatch:
        return WakeWatch(target, typed, config_dir=self._config_dir(agent),
                         events=self.config.state.events_dir / f"{agent.name}.jsonl")


class ReminderPass(Typist):
    """The leader's reminder work: fire what the plan found due, settle orphaned firings.

    Each attempt runs as its own task (a wake's verification takes up to ``wake_verify_s``);
    ``start`` only starts them, so a tick never waits for an agent. One wake per agent at a time.
    ``actions`` is the ActionLayer: read-only refusal, the per-agent lock, the journal, the rate
    limit (for a respawn), the verified respawn and the alert.
    """

    def __init__(self, config: Config, queue: ReminderQueue, actions: Any, **parts: Any) -> None:
        super().__init__(config, actions, **parts)
        self.queue = queue
        self.tasks: dict[str, asyncio.Task[None]] = {}   # reminder id -> its attempt
        self.finishing: set[str] = set()                 # attempts past their verdict: recording, alerting
        self.waking: set[str] = set()                    # agents with a wake in flight
        self.notices: list[Reminder] = []                # delivered notices not yet taken (the TUI's toasts)
        self.invocations: dict[str, int] = {}            # seed #10: tests assert each ran

    def _count(self, name: str) -> None:
        self.invocations[name] = self.invocations.get(name, 0) + 1

    @property
    def max_attempts(self) -> int:
        return 1 + self.config.supervisor.wake_retries

    # --- operator changes (the TUI): refused in read-only below the UI, journaled ---------------
    async def schedule(self, agent: str, verb: str, text: str, due_at: float, *, respawn_if_down: bool = False,
                       by: str = "operator") -> Reminder:
        """Add a reminder; ``ReadOnlyError`` in a read-only cockpit, ``ReminderError`` (one line) for bad input."""
        await asyncio.to_thread(self.actions.refuse_if_read_only, "remind", agent)
        r = await asyncio.to_thread(self.queue.add, agent, verb, text, due_at, respawn_if_down=respawn_if_down,
                                    by=by, now=self.clock())
        await asyncio.to_thread(self.actions.journal.record, "action", agent=agent, action="remind", actor=self.actor,
                                summary=f"reminder {r.id} scheduled: {verb} {agent} at {r.to_json()['due_at']}",
                                after=r.to_json(), result="scheduled")
        return r

    async def cancel(self, ref: str, *, by: str = "operator") -> Reminder:
        """Cancel a reminder by id or unique prefix; ``ReadOnlyError`` / ``ReminderError`` as for schedule."""
        current = await asyncio.to_thread(self.queue.get, ref)
        await asyncio.to_thread(self.actions.refuse_if_read_only, "cancel reminder", current.agent)
        r = await asyncio.to_thread(self.queue.cancel, current.id, by=by, now=self.clock())
        await asyncio.to_thread(self.actions.journal.record, "action", agent=r.agent, action="cancel_reminder",
                                actor=self.actor, summary=f"reminder {r.id} cancelled ({r.verb} {r.agent})",
                                before=current.to_json(), after=r.to_json(), result="cancelled")
        return r

    def take_notices(self) -> list[Reminder]:
        """Notices delivered since the last call (the TUI shows each as a toast once)."""
        out, self.notices = self.notices, []
        return out

    def start(self, intents: Iterable[Intent], snapshot: Any = None, *, starting: Iterable[str] = ()) -> None:
        """Start the attempts the plan found due (``fire_reminder``, ``settle_reminder``); never waits for one."""
        self._count("pass")
        starting = set(starting)
        for intent in intents:
            r = intent.reminder
            if r is None or r.id in self.tasks:
                continue
            if intent.act == SETTLE:
                self._start(r, lambda r=r: self._settle_orphan(r))
            elif r.verb == "wake":
                if r.agent in self.waking:
                    continue  # one wake per agent at a time: typing never interleaves
                self.waking.add(r.agent)
                self._start(r, lambda r=r: self._wake(r, snapshot, starting), agent=r.agent)
            else:
                self._start(r, lambda r=r: self._notice(r))

    def _start(self, r: Reminder, work: Callable[[], Awaitable[None]], *, agent: str | None = None) -> None:
        task = asyncio.ensure_future(self._guarded(r, work))
        self.tasks[r.id] = task

        def done(_task: asyncio.Task[None], rid: str = r.id) -> None:
            self.tasks.pop(rid, None)
            if agent is not None:
                self.waking.discard(agent)
        task.add_done_callback(done)

    async def _guarded(self, r: Reminder, work: Callable[[], Awaitable[None]]) -> None:
        """An attempt that fails (read-only, tmux gone, lock busy) leaves the reminder for a later pass."""
        try:
            await work()  # created here: a task cancelled before it ran leaves no coroutine behind
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - journaled, never lost, never kills the loop
            self._count("error")
            try:
                await asyncio.to_thread(self.actions.journal.record, "info", agent=r.agent, actor=self.actor,
                                        summary=f"reminder {r.id} ({r.verb}) not attempted: "
                                                f"{type(exc).__name__}: {exc}",
                                        evidence={"reminder": r.id})
            except Exception:  # noqa: BLE001 - an unwritable journal must not raise here either
                pass

    async def idle(self, timeout: float | None = None) -> None:
        """Wait for every attempt in flight (tests, shutdown)."""
        if self.tasks:
            await asyncio.wait_for(asyncio.gather(*list(self.tasks.values()), return_exceptions=True), timeout)

    async def close(self, finish_s: float = 5.0) -> None:
        """Stop: an attempt with its verdict in hand finishes (record, journal, alert) for up to ``finish_s``;
        the others are cancelled — a wake cut mid-verification stays ``fired`` and the next leader settles it."""
        finishing = [t for rid, t in self.tasks.items() if rid in self.finishing]
        if finishing:
            await asyncio.wait(finishing, timeout=finish_s)
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- notice ---------------------------------------------------------------------------
    async def _notice(self, r: Reminder) -> None:
        self._count("notice")
        await asyncio.to_thread(self.actions.refuse_if_read_only, "notice", r.agent)
        fired_at = self.clock()
        fired = await asyncio.to_thread(self.queue.claim_fire, r.id, attempt=r.attempts + 1, at=fired_at,
                                        by=self.actor)
        if fired is None:
            return  # another cockpit fired it, or it was cancelled meanwhile
        late = f" (late by {fired.late_by_s:.0f}s)" if fired.late_by_s and fired.late_by_s >= 1 else ""
        await asyncio.to_thread(self.actions.journal.record, "notice", agent=r.agent, action="notice",
                                actor=self.actor, summary=f"notice for {r.agent}: {r.text}{late}",
                                evidence=fired.to_json(), result="journaled")
        # seed #6: a notice is for humans; nothing here touches a pane
        command = await run_json_command(self.config.supervisor.notice_command, fired.to_json(),
                                         name="notice_command", timeout_s=NOTICE_TIMEOUT_S)
        if command.get("ok") is False:
            await asyncio.to_thread(self.actions.journal.record, "info", agent=r.agent, actor=self.actor,
                                    summary=f"notice_command for reminder {r.id}: {command['result']}",
                                    evidence=command)
        evidence = {"journal": True, "notice_command": command}
        delivered = await asyncio.to_thread(self.queue.record_delivered, r.id, attempt=fired.attempts,
                                            at=self.clock(), latency_s=self.clock() - fired_at, via="journal",
                                            evidence=evidence)
        if delivered is not None:
            self.notices.append(delivered)

    # --- wake -----------------------------------------------------------------------------
    def _agent(self, name: str) -> AgentConfig | None:
        return next((a for a in self.config.agents if a.name == name), None)

    def _held_back(self, target: WakeTarget, starting: set[str]) -> str | None:
        if target.down:
            return "agent starting" if target.agent in starting else "agent down"
        if target.status == "waiting":
            # the Enter would answer the agent's prompt (a permission prompt: "Yes")
            return f"agent needs input ({target.waiting_for or 'waiting'}); typed once it is idle"
        if target.status == "busy":
            return "agent busy: typed when its turn ends"
        return None

    async def _wait(self, r: Reminder, why: str) -> None:
        self._count("waiting")
        changed = await asyncio.to_thread(self.queue.record_waiting, r.id, why=why, at=self.clock())
        if changed is not None:
            await asyncio.to_thread(self.actions.journal.record, "info", agent=r.agent, actor=self.actor,
                                    summary=f"reminder {r.id} for {r.agent} waits: {why}",
                                    evidence={"reminder": r.id, "why": why})

    async def _wake(self, r: Reminder, snapshot: Any, starting: set[str]) -> None:
        self._count("wake")
        await asyncio.to_thread(self.actions.refuse_if_read_only, "wake", r.agent)
        agent = self._agent(r.agent)
        if agent is None:
            await self._wait(r, f"no agent named {r.agent!r} in the config")
            return
        target = await self._target(agent, snapshot)
        if target.down and r.respawn_if_down and r.agent not in starting:
            if r.state == "waiting" and (r.why or "").startswith("agent down; respawn"):
                return  # one respawn per reminder: after that the supervisor's restart policy rules
            target = await self._respawn_first(r, agent)
            if target is None:
                return
        why = self._held_back(target, starting)
        if why is not None:
            await self._wait(r, why)
            return
        typed = typed_text(r.text)
        attempt = r.attempts + 1
        lock = agent_lock_path(self.config.state.dir, agent.name)
        try:
            # The agent's lock: a respawn or reap from any cockpit never interleaves with the typing.
            async with ahold(lock, timeout=5.0):
                target = await self._target(agent)  # re-observed under the lock
                why = self._held_back(target, starting)
                if why is not None:
                    await self._wait(r, why)
                    return
                watch = self._watch(agent, target, typed)
                await asyncio.to_thread(watch.baseline)
                fired_at = self.clock()
                fired = await asyncio.to_thread(
                    self.queue.claim_fire, r.id, attempt=attempt, at=fired_at, by=self.actor,
                    fields={"pane": target.pane_id, "typed": typed})
                if fired is None:
                    return  # fired by another cockpit, or cancelled meanwhile
                try:
                    assert target.pane_id is not None
                    await type_wake(self.tmux, target.pane_id, typed, enter_delay_s=self.enter_delay_s)
                except TmuxError as exc:
                    evidence = {"typed": typed, "pane": target.pane_id, "error": f"tmux: {exc}",
                                "target": target.to_json()}
                    await self._missed(fired, attempt, evidence)
                    return
        except LockTimeout:
            return  # an action on this agent is under way; the next tick tries again
        verdict = await verify_wake(watch, fired_at=fired_at, verify_s=self.config.supervisor.wake_verify_s,
                                    clock=self.clock)
        await self._verdict(fired, attempt, target, typed, verdict)

    async def _respawn_first(self, r: Reminder, agent: AgentConfig) -> WakeTarget | None:
        """``respawn_if_down``: the verified respawn, at the rate limit; then wait for its prompt."""
        if not self.actions.bucket.take():
            await self._wait(r, "agent down; respawn held back by the rate limit")
            return None
        self._count("respawn")
        result = await self.actions.respawn(agent.name, by=f"reminder {r.id}")
        if not result.ok:
            await self._wait(r, f"agent down; respawn failed: {result.summary}")
            return None
        deadline = time.monotonic() + READY_TIMEOUT_S
        target = await self._target(agent)
        # Ready: a Claude-like agent has written its live file and sits idle; others get min_uptime_s.
        while agent.kind == "claude-code" and time.monotonic() < deadline and (
                target.down or target.status != "idle"):
            await asyncio.sleep(0.2)
            target = await self._target(agent)
        if agent.kind != "claude-code":
            await asyncio.sleep(self.config.supervisor.min_uptime_s)
        return target

    async def _verdict(self, fired: Reminder, attempt: int, target: WakeTarget, typed: str, verdict: Verdict) -> None:
        self.finishing.add(fired.id)
        try:
            await self._record_verdict(fired, attempt, target, typed, verdict)
        finally:
            self.finishing.discard(fired.id)

    async def _record_verdict(self, fired: Reminder, attempt: int, target: WakeTarget, typed: str,
                              verdict: Verdict) -> None:
        evidence = {"typed": typed, "pane": target.pane_id, "pid": target.pid, "attempt": attempt,
                    "verify_s": self.config.supervisor.wake_verify_s, **verdict.evidence}
        if verdict.delivered:
            done = await asyncio.to_thread(self.queue.record_delivered, fired.id, attempt=attempt, at=self.clock(),
                                           latency_s=verdict.latency_s or 0.0, via=verdict.via or "transcript",
                                           evidence=evidence)
            if done is None:
                return
            await asyncio.to_thread(
                self.actions.journal.record, "action", agent=fired.agent, action="wake", actor=self.actor,
                summary=(f"woke {fired.agent} with reminder {fired.id}: verified by its {verdict.via} "
                         f"{done.latency_s or 0:.1f}s after typing into {target.pane_id}"),
                before={"status": target.status}, after={"status": verdict.evidence.get("status_after"),
                                                         "via": verdict.via},
                evidence=evidence, result="verified")
            return
        await self._missed(fired, attempt, evidence)

    async def _missed(self, fired: Reminder, attempt: int, evidence: dict[str, Any]) -> None:
        self.finishing.add(fired.id)
        try:
            await self._record_missed(fired, attempt, evidence)
        finally:
            self.finishing.discard(fired.id)

    async def _record_missed(self, fired: Reminder, attempt: int, evidence: dict[str, Any]) -> None:
        now = self.clock()
        final = attempt >= self.max_attempts
        retry_at = None if final else now + retry_delay_s(attempt, self.config.supervisor.backoff_max_s)
        done = await asyncio.to_thread(self.queue.record_missed, fired.id, attempt=attempt, at=now,
                                       evidence=evidence, retry_at=retry_at)
        if done is None:
            return  # settled by someone else
        retry = "no retry left" if final else f"retry {attempt + 1} of {self.max_attempts} in {retry_at - now:.1f}s"
        await asyncio.to_thread(
            self.actions.journal.record, "action", agent=fired.agent, action="wake", actor=self.actor,
            summary=(f"wake of {fired.agent} with reminder {fired.id} NOT picked up within "
                     f"{self.config.supervisor.wake_verify_s:g}s (attempt {attempt}); {retry}"),
            before={"status": evidence.get("status_before")}, after={"status": evidence.get("status_after")},
            evidence=evidence, result="missed")
        alert = wake_missed(done, now=now, max_attempts=self.max_attempts)
        if alert is not None and alert.finding is not None:
            self._count("alert")
            await self.actions.alert(alert.finding)  # once: only the writer of the final miss gets here

    async def _settle_orphan(self, r: Reminder) -> None:
        """A ``fired`` left without a verdict (its cockpit stopped): look once at what the agent shows."""
        self._count("settle")
        await asyncio.to_thread(self.actions.refuse_if_read_only, r.verb, r.agent)
        if r.verb == "notice":
            # the journal row may or may not have been written: say so rather than send it twice
            await asyncio.to_thread(self.queue.record_delivered, r.id, attempt=r.attempts, at=self.clock(),
                                    latency_s=0.0, via="journal",
                                    evidence={"settled": "the cockpit that fired it stopped before its verdict"})
            return
        agent = self._agent(r.agent)
        typed = typed_text(r.text)
        if agent is None:
            await self._missed(r, r.attempts, {"typed": typed, "pane": r.pane, "settled": "agent no longer configured"})
            return
        target = await self._target(agent)
        watch = self._watch(agent, target, typed)
        seen = await asyncio.to_thread(watch.check, r.fired_at or 0.0)
        base = {"typed": typed, "pane": r.pane, "attempt": r.attempts,
                "settled": "the cockpit that fired it stopped before its verdict; transcript read afterwards"}
        if seen.match is not None:
            path, ts, text = seen.match
            latency = max(0.0, (ts or self.clock()) - (r.fired_at or 0.0))
            await asyncio.to_thread(self.queue.record_delivered, r.id, attempt=r.attempts, at=self.clock(),
                                    latency_s=latency, via="transcript",
                                    evidence={**base, **watch.evidence(seen),
                                              "record": {"transcript": path, "timestamp": ts, "text": text[:600]}})
            return
        await self._missed(r, r.attempts, {**base, **watch.evidence(seen)})

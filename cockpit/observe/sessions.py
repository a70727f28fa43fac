"""Session truth: which session each agent really runs, from the disk, never from the cache (seed #3).

In this order, per agent:

(a) ``live``: the live-session file (``$CLAUDE_CONFIG_DIR/sessions/<pid>.json``) of a process in
    the agent's pane tree, whose pid AND ``procStart`` match that process (a reused pid is
    another process). For Codex, the rollout a process of the tree holds open.
(b) ``bound``: the ids the cockpit bound itself (``--session-id`` at spawn, ``--resume``,
    repoints, and ids learned from (a) since), newest first, whose transcript exists in the
    agent's config dir (the newest one also while its freshly spawned process has written
    neither a live file nor a turn yet: it is the truth, just not resumable yet).
(c) ``newest``: the newest transcript (by its last record's ``timestamp``, not mtime) in the
    agent's project folder, whose records' ``cwd`` is the agent's, that nobody else owns: not
    another fleet agent's (a) or (b) or bound ids, not a live session of a claude outside the
    fleet (foreign sessions never win anywhere). When another undecided agent could claim
    the same transcripts (two agents share a cwd and nothing decides), the answer is
    ``ambiguous`` and nothing is picked: peers that guessed here hijacked sessions.

:class:`SessionObserver` does the per-tick I/O (one worker-thread pass) and keeps the last truth.
The rule itself (``cockpit.judge.resolution.resolve_sessions``) and the activity tracker
(``cockpit.judge.activity.ActivityTracker``) are pure and live with the judges; whoever builds the
observer hands them in, so reading files and deciding from them stay in their own rooms.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from cockpit.config import AgentConfig, Config
from cockpit.observe.procs import ProcessReader
from cockpit.observe.transcripts import CodexIndex, TranscriptIndex, TranscriptSummary
from cockpit.records import LIVE_SESSION, json_object
from cockpit.routes import RoutesRead, read_routes

__all__ = [
    "AgentFacts",
    "LiveSession",
    "ProcRef",
    "Resolution",
    "RouteState",
    "SessionObserver",
    "SessionTruth",
    "SessionsReport",
    "TranscriptFacts",
    "parse_live_session",
]

TRANSCRIPT_KINDS = ("claude-code", "codex")
LIVE_STATUSES = ("busy", "idle", "waiting")
MAX_LIVE_FILE_BYTES = 64 << 10
LOCATE_CACHE_S = 30.0
EVIDENCE_LIST = 10


# --- plain data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcRef:
    """A process of an agent's pane tree: pid + start ticks is its identity; depth 0 = the pane's process."""
    pid: int
    start: int
    depth: int = 0


@dataclass(frozen=True)
class AgentFacts:
    name: str
    kind: str = "claude-code"
    cwds: tuple[str, ...] = ()          # the agent's cwd as configured and as resolved (records' cwd must be one)
    folders: tuple[str, ...] = ()       # where its transcripts live (Claude: project folders; Codex: the home)
    tree: tuple[ProcRef, ...] = ()
    bound: tuple[str, ...] = ()         # oldest → newest

    @property
    def has_transcripts(self) -> bool:
        return self.kind in TRANSCRIPT_KINDS


@dataclass(frozen=True)
class LiveSession:
    pid: int
    session_id: str
    cwd: str | None = None
    proc_start: int | None = None
    status: str | None = None           # busy | idle | waiting
    updated_at: float | None = None
    alive: bool = True                  # a process with this pid AND start runs now
    path: str | None = None
    via: str = "live-file"              # live-file | open-file

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "session_id": self.session_id, "cwd": self.cwd, "procStart": self.proc_start,
                "status": self.status, "alive": self.alive, "file": self.path, "via": self.via}


@dataclass(frozen=True)
class TranscriptFacts:
    session_id: str
    kind: str = "claude-code"
    folder: str | None = None
    cwd: str | None = None
    last_at: float | None = None
    first_at: float | None = None
    turn_finished: bool | None = None
    path: str | None = None
    sidechain: bool = False


@dataclass(frozen=True)
class Resolution:
    agent: str
    disk_session: str | None
    source: str | None                  # live | bound | newest | None
    ambiguous: bool = False
    candidates: tuple[str, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)
    live: LiveSession | None = None
    transcript: TranscriptFacts | None = None


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionTruth:
    """One agent's disk truth, as of one observation."""
    agent: str
    disk_session: str | None
    source: str | None                  # live | bound | newest | None
    last_turn_at: float | None          # last record timestamp of the disk truth's transcript
    turn_finished: bool | None
    status: str | None                  # from the live-session file: busy | idle | waiting
    ambiguous: bool = False
    candidates: tuple[str, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)
    activity: str | None = None         # working | idle | needs_input (a running agent)
    transcript: TranscriptSummary | None = None
    kind: str = "claude-code"
    config_dir: str | None = None

    @property
    def resumable(self) -> bool:
        """A respawn can resume it: known, unambiguous, with a transcript (or a kind without transcripts)."""
        if self.disk_session is None or self.ambiguous:
            return False
        return self.transcript is not None or self.kind not in TRANSCRIPT_KINDS

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent, "disk_session": self.disk_session, "source": self.source,
            "last_turn_at": self.last_turn_at, "turn_finished": self.turn_finished, "status": self.status,
            "ambiguous": self.ambiguous, "candidates": list(self.candidates), "evidence": dict(self.evidence),
            "activity": self.activity, "kind": self.kind, "config_dir": self.config_dir,
            "transcript": None if self.transcript is None else {
                "path": self.transcript.path, "turns": self.transcript.turns,
                "last_user_text": self.transcript.last_user_text,
                "last_assistant_text": self.transcript.last_assistant_text,
                "bad_lines": self.transcript.bad_lines, "complete": self.transcript.complete},
        }


@dataclass(frozen=True)
class RouteState:
    """What the routing record says about one agent, checked against the disk."""
    agent: str
    session_id: str | None              # None: the record has no entry for the agent
    shape: str | None = None            # string | object
    known: bool | None = None           # its transcript exists in the agent's config dir (None: cannot tell)
    last_turn_at: float | None = None
    found_in: str | None = None         # a folder of the config dir other than the agent's that holds it
    config_dir: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "session_id": self.session_id, "shape": self.shape, "known": self.known,
                "last_turn_at": self.last_turn_at, "found_in": self.found_in, "config_dir": self.config_dir}


@dataclass(frozen=True)
class SessionsReport:
    at: float
    truths: Mapping[str, SessionTruth]
    routes: Mapping[str, RouteState]
    routes_file: str | None = None
    routes_error: str | None = None
    routes_bad_entries: Mapping[str, str] = field(default_factory=dict)
    cost_ms: float = 0.0
    bytes_read: int = 0
    bad_live_files: int = 0

    def truth(self, agent: str) -> SessionTruth | None:
        return self.truths.get(agent)

    def route(self, agent: str) -> RouteState | None:
        return self.routes.get(agent)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "truths": {k: v.to_json() for k, v in self.truths.items()},
                "routes": {k: v.to_json() for k, v in self.routes.items()}, "routes_file": self.routes_file,
                "routes_error": self.routes_error, "routes_bad_entries": dict(self.routes_bad_entries),
                "cost_ms": round(self.cost_ms, 3), "bytes_read": self.bytes_read,
                "bad_live_files": self.bad_live_files}


# --- I/O ----------------------------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value) < 24:
        return int(value)
    return None


def parse_live_session(raw: bytes, path: str | None = None) -> LiveSession | None:
    """One ``sessions/<pid>.json``; None when it is not one (bad JSON, no pid or sessionId, wrong types)."""
    value, _ = json_object(raw)
    data, _ = LIVE_SESSION.parse(value) if value is not None else (None, None)
    if data is None:
        return None
    pid = data["pid"]
    sid = data["sessionId"]
    cwd = data.get("cwd")
    status = data.get("status")
    updated = data.get("updatedAt")
    updated_at = float(updated) / 1000.0 if updated is not None else None
    return LiveSession(pid=pid, session_id=sid.lower(), cwd=cwd, proc_start=_as_int(data.get("procStart")),
                       status=status, updated_at=updated_at, path=path)


class LiveSessionDir:
    """``$CLAUDE_CONFIG_DIR/sessions/*.json``, re-parsed only when a file changed."""

    def __init__(self, config_dir: Path) -> None:
        self.dir = Path(config_dir) / "sessions"
        self._cache: dict[str, tuple[tuple[int, int, int], LiveSession | None]] = {}
        self.bad_files = 0

    def read(self) -> list[LiveSession]:
        out: list[LiveSession] = []
        seen: set[str] = set()
        bad = 0
        try:
            with os.scandir(self.dir) as it:
                entries = [e for e in it if e.name.endswith(".json") and not e.name.startswith(".")]
        except OSError:
            entries = []
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            ident = (st.st_ino, st.st_size, st.st_mtime_ns)
            seen.add(entry.path)
            cached = self._cache.get(entry.path)
            if cached is None or cached[0] != ident:
                parsed = None
                # a FIFO or a device named *.json is a bad file, never a blocking open or an endless read
                if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_LIVE_FILE_BYTES:
                    try:
                        fd = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
                        with os.fdopen(fd, "rb") as fh:
                            parsed = parse_live_session(fh.read(MAX_LIVE_FILE_BYTES), entry.path)
                    except OSError:
                        continue
                cached = (ident, parsed)
                self._cache[entry.path] = cached
            if cached[1] is None:
                bad += 1
            else:
                out.append(cached[1])
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        self.bad_files = bad
        return out


def _tree_refs(tree: Sequence[Any]) -> tuple[ProcRef, ...]:
    """Procs (pane process first, depth-first) as ProcRefs with their depth below the pane's process."""
    depth: dict[int, int] = {}
    refs = []
    for proc in tree:
        d = depth.get(getattr(proc, "ppid", -1), -1) + 1 if depth else 0
        depth[proc.pid] = d
        refs.append(ProcRef(proc.pid, proc.start, d))
    return tuple(refs)


Resolve = Callable[[Sequence[AgentFacts], Iterable[LiveSession], Iterable[TranscriptFacts]], Mapping[str, Resolution]]


class Activity(Protocol):
    """What the observer asks of the activity tracker (``cockpit.judge.activity.ActivityTracker``)."""

    def update(self, agent: str, *, now: float, alive: bool, live_status: str | None = None,
               turn_finished: bool | None = None, last_turn_at: float | None = None, pane_mark: Any = None,
               screen: str | None = None) -> str | None: ...

    def why(self, agent: str) -> str: ...


class SessionObserver:
    """Per tick: read live-session files, transcripts (incrementally), the routing record; resolve.

    ``resolve`` is the session rule and ``activity`` the activity tracker (both pure, the judges'):
    the observer gathers their facts and reads what their answer asks for (the truth's whole
    transcript). ``observe_sync`` is blocking (run it in a worker thread: ``await observe(...)``
    does); calls are serialised, so a repoint's fresh recompute and a tick never interleave.
    """

    def __init__(self, config: Config, *, resolve: Resolve, activity: Activity,
                 clock: Callable[[], float] = time.time,
                 proc_start: Callable[[int], int | None] | None = None,
                 reader: ProcessReader | None = None) -> None:
        self.config = config
        self.clock = clock
        self.proc_start = proc_start
        self._reader = reader or ProcessReader()  # the supervisor's: one /proc reader, one command-line cache
        self.resolve = resolve
        self.activity = activity
        self.last: SessionsReport | None = None
        self._lock = threading.Lock()
        self._claude: dict[Path, TranscriptIndex] = {}
        self._codex: dict[Path, CodexIndex] = {}
        self._live: dict[Path, LiveSessionDir] = {}
        self._routes: tuple[Any, RoutesRead] | None = None
        self._history: dict[str, list[str]] = {}       # agent -> session ids bound or learned, oldest → newest
        self._registry_seen: dict[str, list[str]] = {}
        self._located: dict[tuple[Path, str], tuple[float, list[Path]]] = {}
        self._folders: dict[tuple[str, str], str] = {}
        self._agent_places: dict[str, tuple[tuple[str, ...], dict[str, Path]]] = {}
        self._config_dirs: dict[str, Path] = {}
        self._live_dirs: list[Path] = []
        # what did not change is not recomputed: per agent its facts (keyed by what they are made of),
        # the rule's answer for the same facts, live sessions and transcripts, and per agent its truth
        self._facts_memo: dict[str, tuple[tuple[Any, ...], AgentFacts]] = {}
        self._trees: dict[str, tuple[Any, tuple[ProcRef, ...]]] = {}
        self._resolved: tuple[list[AgentFacts], list[LiveSession], list[TranscriptFacts], Mapping[str, Resolution]] | None = None
        self._truths: dict[str, tuple[tuple[Any, ...], SessionTruth]] = {}
        # per agent, what its facts were last built from: (tree, bound ids, learned ids, facts, folders, claude in tree)
        self._facts_last: dict[str, tuple[Any, tuple[str, ...], list[str], AgentFacts, dict[str, Path], bool]] = {}
        self._live_seen: dict[tuple[int, int | None], LiveSession] | None = None
        self._homes: dict[str, str] = {}
        self._activity_in: dict[str, tuple[tuple[Any, ...], str | None]] = {}  # the tracker's last inputs and answer
        self._truths_of: tuple[tuple[Any, ...], dict[str, SessionTruth]] | None = None  # the last truths and their inputs

    # --- where things live ----------------------------------------------------------------
    def claude_dir(self, agent: AgentConfig) -> Path:
        value = agent.env.get("CLAUDE_CONFIG_DIR")
        return Path(value).expanduser() if value else Path(self.config.claude.config_dir).expanduser()

    def codex_home(self, agent: AgentConfig) -> Path:
        value = agent.env.get("CODEX_HOME")
        return Path(value).expanduser() if value else Path(self.config.codex.home).expanduser()

    def claude_index(self, config_dir: Path) -> TranscriptIndex:
        index = self._claude.get(config_dir)
        if index is None:
            index = self._claude[config_dir] = TranscriptIndex(config_dir, clock=self.clock)
        return index

    def codex_index(self, home: Path) -> CodexIndex:
        index = self._codex.get(home)
        if index is None:
            index = self._codex[home] = CodexIndex(home, clock=self.clock)
        return index

    def _live_dir(self, config_dir: Path) -> LiveSessionDir:
        d = self._live.get(config_dir)
        if d is None:
            d = self._live[config_dir] = LiveSessionDir(config_dir)
        return d

    def _folder(self, index: TranscriptIndex, cwd: str) -> str:
        key = (str(index.config_dir), cwd)
        folder = self._folders.get(key)
        if folder is None:  # the slug is computed per UTF-16 unit in Python: once per cwd, not per tick
            folder = self._folders[key] = str(index.folder_for(cwd))
        return folder

    def _places(self, agent: AgentConfig) -> tuple[tuple[str, ...], dict[str, Path]]:
        """The agent's cwds (as configured and resolved) and transcript folders; the config never changes."""
        cached = self._agent_places.get(agent.name)
        if cached is None:
            cwd = os.fspath(agent.cwd)
            cwds = tuple(dict.fromkeys([cwd, os.path.realpath(cwd)]))
            if agent.kind == "codex":
                home = self.codex_home(agent)
                folders = {str(home): home}
            else:
                cdir = self.claude_dir(agent)
                index = self.claude_index(cdir)
                folders = {self._folder(index, c): cdir for c in cwds}
            cached = self._agent_places[agent.name] = (cwds, folders)
        return cached

    # --- bound + learned ids --------------------------------------------------------------
    def _sync_history(self, name: str, registry_ids: Sequence[str]) -> list[str]:
        history = self._history.setdefault(name, [])
        seen = self._registry_seen.get(name, [])
        moved = [sid for sid in registry_ids if sid not in seen]
        if registry_ids and (not seen or registry_ids[-1] != seen[-1]) and registry_ids[-1] not in moved:
            moved.append(registry_ids[-1])  # re-bound (e.g. resumed again): newest now
        for sid in moved:
            if sid in history:
                history.remove(sid)
            history.append(sid)
        self._registry_seen[name] = list(registry_ids)
        return history

    def _learn(self, name: str, sid: str) -> None:
        """An id seen live in the agent's pane is the agent's from now on (the 'learned since' of SPEC §3)."""
        history = self._history.setdefault(name, [])
        if not history or history[-1] != sid:
            if sid in history:
                history.remove(sid)
            history.append(sid)

    # --- one pass -------------------------------------------------------------------------
    async def observe(self, snapshot: Any, bound: Mapping[str, Sequence[str]], *, now: float | None = None,
                      screens: Mapping[str, str] | None = None, track_activity: bool = True) -> SessionsReport:
        return await asyncio.to_thread(self.observe_sync, snapshot, bound, now=now, screens=screens,
                                       track_activity=track_activity)

    def observe_sync(self, snapshot: Any, bound: Mapping[str, Sequence[str]], *, now: float | None = None,
                     screens: Mapping[str, str] | None = None, track_activity: bool = True) -> SessionsReport:
        with self._lock:
            return self._observe(snapshot, bound, now, screens or {}, track_activity)

    def _alive(self, procs: Any, pid: int, start: int | None) -> bool:
        proc = procs.get(pid) if procs is not None else None
        if proc is not None:
            return (start is None or proc.start == start) and not proc.zombie
        if self.proc_start is not None:  # an injected probe (tests)
            current = self.proc_start(pid)
            return current is not None and (start is None or current == start)
        found = self._reader.read(pid)
        return found is not None and not found.zombie and (start is None or found.start == start)

    def _observe(self, snapshot: Any, bound: Mapping[str, Sequence[str]], now: float | None,
                 screens: Mapping[str, str], track_activity: bool) -> SessionsReport:
        started = time.perf_counter()
        now = self.clock() if now is None else now
        bytes_before = self._bytes_read()
        observations = getattr(snapshot, "agents", {}) or {}
        agents = list(self.config.agents)
        cdirs = self._config_dirs or {a.name: self.claude_dir(a) for a in agents}
        self._config_dirs = cdirs
        live, bad_live = self._live_sessions(cdirs, getattr(snapshot, "procs", None))
        facts, folder_of, claude_in_tree = self._agent_facts(agents, observations, cdirs, live, bound)
        transcripts, summaries = self._transcripts(agents, facts, cdirs, claude_in_tree)
        live.extend(self._codex_open_rollouts(agents, facts))
        resolutions = self._resolve(facts, live, transcripts)
        made_of = (observations, facts, resolutions, dict(summaries))
        truths = self._same_truths(made_of) if track_activity and not screens else None
        if truths is None:
            truths = {agent.name: self._truth(agent, f, resolutions[agent.name], summaries, observations.get(agent.name),
                                              now=now, screen=screens.get(agent.name), track_activity=track_activity,
                                              cdirs=cdirs)
                      for agent, f in zip(agents, facts)}
            self._truths_of = (made_of, truths) if track_activity and not screens else None
        routes, routes_file, routes_error, bad_entries = self._route_states(agents, facts, folder_of, summaries, now)
        report = SessionsReport(
            at=now, truths=truths, routes=routes, routes_file=routes_file, routes_error=routes_error,
            routes_bad_entries=bad_entries, cost_ms=(time.perf_counter() - started) * 1000.0,
            bytes_read=self._bytes_read() - bytes_before, bad_live_files=bad_live)
        self.last = report
        return report

    def _same_truths(self, made_of: tuple[Any, list[AgentFacts], Any, dict[Any, Any]]) -> dict[str, SessionTruth] | None:
        """The last pass's truths while they are made of the same observations, facts, answers and
        transcripts (the same objects, equal summaries) and time alone cannot move any agent's activity."""
        last = self._truths_of
        if last is None:
            return None
        (observations, facts, resolutions, summaries), (was_obs, was_facts, was_res, was_summaries) = made_of, last[0]
        if (observations is not was_obs or resolutions is not was_res or len(facts) != len(was_facts)
                or not all(a is b for a, b in zip(facts, was_facts)) or summaries != was_summaries):
            return None
        if not all(self.activity.settled(f.name) for f in facts):
            return None
        return last[1]

    def _resolve(self, facts: list[AgentFacts], live: list[LiveSession],
                 transcripts: list[TranscriptFacts]) -> Mapping[str, Resolution]:
        """The rule's answer; the last one while its facts (the same objects), live sessions and
        transcripts are what they were (the rule is pure: the same input, the same answer)."""
        last = self._resolved
        if (last is not None and len(last[0]) == len(facts) and all(a is b for a, b in zip(last[0], facts))
                and last[1] == live and last[2] == transcripts):
            return last[3]
        resolutions = self.resolve(facts, live, transcripts)
        self._resolved = (facts, live, transcripts, resolutions)
        return resolutions

    def _live_sessions(self, cdirs: Mapping[str, Path], procs: Any) -> tuple[list[LiveSession], int]:
        """The live-session files of every config dir the fleet uses, each checked against the process table."""
        live: list[LiveSession] = []
        bad_live = 0
        if not self._live_dirs:
            self._live_dirs = list(dict.fromkeys([Path(self.config.claude.config_dir).expanduser(),
                                                  *cdirs.values()]))
        for cdir in self._live_dirs:
            reader = self._live_dir(cdir)
            for l in reader.read():
                live.append(LiveSession(l.pid, l.session_id, l.cwd, l.proc_start, l.status, l.updated_at,
                                        self._alive(procs, l.pid, l.proc_start), l.path, l.via))
            bad_live += reader.bad_files
        return live, bad_live

    def _agent_facts(self, agents: Sequence[AgentConfig], observations: Mapping[str, Any],
                     cdirs: Mapping[str, Path], live: Sequence[LiveSession], bound: Mapping[str, Sequence[str]],
                     ) -> tuple[list[AgentFacts], dict[str, dict[str, Path]], set[str]]:
        """Per agent: its pane tree, cwds, transcript folders and bound ids; and who runs a claude in its pane."""
        facts: list[AgentFacts] = []
        folder_of: dict[str, dict[str, Path]] = {}   # agent -> folder -> config dir or codex home
        live_by_key = {(l.pid, l.proc_start): l for l in live if l.cwd and l.proc_start is not None}
        same_live, self._live_seen = live_by_key == self._live_seen, live_by_key
        claude_in_tree: set[str] = set()
        for agent in agents:
            obs = observations.get(agent.name)
            procs = getattr(obs, "tree", ()) or ()
            ids, history = tuple(bound.get(agent.name, ())), self._history.get(agent.name, [])
            last = self._facts_last.get(agent.name)
            if same_live and last is not None and last[0] is procs and last[1] == ids and last[2] == history:
                facts.append(last[3])  # the same tree, live sessions, bound and learned ids: the same facts
                folder_of[agent.name] = last[4]
                if last[5]:
                    claude_in_tree.add(agent.name)
                continue
            known = self._trees.get(agent.name)
            if known is not None and known[0] is procs:
                tree = known[1]  # the same observed tree (an unchanged agent keeps its objects)
            else:
                tree = _tree_refs(procs)
                self._trees[agent.name] = (procs, tree)
            cwds, folders = self._places(agent)
            in_tree = [l for p in tree if (l := live_by_key.get((p.pid, p.start))) is not None]
            if in_tree:
                claude_in_tree.add(agent.name)
            extra = [l.cwd for l in in_tree if l.cwd not in cwds]
            if extra:  # the agent's claude runs elsewhere than its configured cwd: look there too
                cwds = cwds + tuple(dict.fromkeys(extra))
                index = self.claude_index(cdirs[agent.name])
                folders = {**folders, **{self._folder(index, c): cdirs[agent.name] for c in extra}}
            folder_of[agent.name] = folders
            registry_ids = [s for s in bound.get(agent.name, ()) if isinstance(s, str) and s]
            history = self._sync_history(agent.name, registry_ids)
            key = (agent.kind, cwds, tuple(folders), tree, tuple(history))
            memo = self._facts_memo.get(agent.name)
            if memo is None or memo[0] != key:
                memo = self._facts_memo[agent.name] = (key, AgentFacts(agent.name, *key))
            facts.append(memo[1])
            self._facts_last[agent.name] = (procs, ids, list(history), memo[1], folders, bool(in_tree))
        return facts, folder_of, claude_in_tree

    def _transcripts(self, agents: Sequence[AgentConfig], facts: Sequence[AgentFacts], cdirs: Mapping[str, Path],
                     claude_in_tree: set[str]) -> tuple[list[TranscriptFacts], dict[tuple[str, str], TranscriptSummary]]:
        """The transcripts of the fleet's folders, read incrementally."""
        transcripts: list[TranscriptFacts] = []
        summaries: dict[tuple[str, str], TranscriptSummary] = {}
        claude_folders: dict[Path, set[str]] = {}
        codex_cwds: dict[Path, set[str]] = {}
        for agent, f in zip(agents, facts):
            if agent.kind == "codex":
                codex_cwds.setdefault(self.codex_home(agent), set()).update(f.cwds)
            elif agent.kind == "claude-code" or agent.name in claude_in_tree:
                # a generic agent's folders matter only while a claude runs in its pane
                claude_folders.setdefault(cdirs[agent.name], set()).update(f.folders)
        for cdir, folders in claude_folders.items():
            index = self.claude_index(cdir)
            for folder in sorted(folders):
                for s in index.refresh_folder(folder):
                    summaries[(folder, s.session_id)] = s
                    transcripts.append(TranscriptFacts(s.session_id, "claude-code", folder, s.cwd, s.last_at,
                                                       s.first_at, s.turn_finished, s.path, s.sidechain))
        for home, cwds in codex_cwds.items():
            index = self.codex_index(home)
            for s in index.refresh(cwds):
                summaries[(str(home), s.session_id)] = s
                transcripts.append(TranscriptFacts(s.session_id, "codex", str(home), s.cwd, s.last_at,
                                                   s.first_at, s.turn_finished, s.path, s.sidechain))
        return transcripts, summaries

    def _truth(self, agent: AgentConfig, f: AgentFacts, res: Resolution,
               summaries: dict[tuple[str, str], TranscriptSummary], obs: Any, *, now: float, screen: str | None,
               track_activity: bool, cdirs: Mapping[str, Path]) -> SessionTruth:
        """One agent's truth: the rule's answer, its transcript read whole, and its activity."""
        summary = None
        if res.disk_session is not None:
            for folder in f.folders:
                if (folder, res.disk_session) in summaries:
                    summary = self._complete(agent, folder, res.disk_session, summaries)
                    break
        if res.source == "live" and res.disk_session:
            self._learn(agent.name, res.disk_session)
        alive = obs is not None and getattr(obs, "proc", None) is not None
        status = res.live.status if res.live is not None else None
        activity = None
        if track_activity:
            activity = self._activity(agent.name, now, alive, status, summary, obs, screen)
        elif self.last is not None and agent.name in self.last.truths and alive:
            activity = self.last.truths[agent.name].activity
        why = self.activity.why(agent.name) if track_activity and alive else None
        home = self._homes.get(agent.name)
        if home is None:
            home = self._homes[agent.name] = str(self.codex_home(agent) if agent.kind == "codex" else cdirs[agent.name])
        key = (res, summary, status, activity, why, home)
        memo = self._truths.get(agent.name)
        if memo is not None and memo[0] == key:
            return memo[1]  # nothing it is made of moved: the same truth object
        evidence = dict(res.evidence)
        if why is not None:
            evidence["activity_why"] = why
        truth = SessionTruth(
            agent=agent.name, disk_session=res.disk_session, source=res.source,
            last_turn_at=summary.last_at if summary else None,
            turn_finished=summary.turn_finished if summary else None, status=status,
            ambiguous=res.ambiguous, candidates=res.candidates, evidence=evidence, activity=activity,
            transcript=summary, kind=agent.kind, config_dir=home)
        self._truths[agent.name] = (key, truth)
        return truth

    def _activity(self, name: str, now: float, alive: bool, status: str | None, summary: TranscriptSummary | None,
                  obs: Any, screen: str | None) -> str | None:
        """The tracker's answer; the last one while its inputs are what they were and time alone cannot
        move it (an idle agent of an idle fleet costs no update a tick)."""
        pane = getattr(obs, "pane", None)
        inputs = (alive, status, summary.turn_finished if summary else None, summary.last_at if summary else None,
                  getattr(pane, "change_mark", None), screen)
        last = self._activity_in.get(name)
        if last is not None and last[0] == inputs and self.activity.settled(name):
            return last[1]
        activity = self.activity.update(name, now=now, alive=alive, live_status=status, turn_finished=inputs[2],
                                        last_turn_at=inputs[3], pane_mark=inputs[4], screen=screen)
        self._activity_in[name] = (inputs, activity)
        return activity

    def _complete(self, agent: AgentConfig, folder: str, sid: str,
                  summaries: dict[tuple[str, str], TranscriptSummary]) -> TranscriptSummary:
        """The disk truth's transcript, read whole once (a peeked file's counts are partial)."""
        summary = summaries[(folder, sid)]
        if summary.complete or agent.kind == "codex":
            return summary
        full = self.claude_index(self.claude_dir(agent)).ensure_full(folder, sid)
        if full is not None:
            summaries[(folder, sid)] = full
            return full
        return summary

    def _codex_open_rollouts(self, agents: Sequence[AgentConfig], facts: Sequence[AgentFacts]) -> list[LiveSession]:
        """Codex keeps its rollout open: a tree process holding one is that session's live process."""
        out: list[LiveSession] = []
        for agent, f in zip(agents, facts):
            if agent.kind != "codex" or not f.tree:
                continue
            index = self.codex_index(self.codex_home(agent))
            prefix = str(index.sessions) + os.sep
            for ref in f.tree:
                fd_dir = f"/proc/{ref.pid}/fd"
                try:
                    names = os.listdir(fd_dir)
                except OSError:
                    continue
                for name in names:
                    try:
                        target = os.readlink(f"{fd_dir}/{name}")
                    except OSError:
                        continue
                    if not (target.startswith(prefix) and target.endswith(".jsonl")):
                        continue
                    reader = index.by_path(target)
                    if reader is None:
                        continue
                    out.append(LiveSession(ref.pid, reader.session_id, reader.cwd, ref.start, None, None, True,
                                           target, "open-file"))
        return out

    def _read_routes(self) -> RoutesRead | None:
        path = self.config.routes.file
        if path is None:
            return None
        path = Path(path).expanduser()
        try:
            st = os.stat(path)
            ident: Any = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError as exc:
            ident = ("error", exc.errno)
        if self._routes is not None and self._routes[0] == ident:
            return self._routes[1]
        read = read_routes(path)
        self._routes = (ident, read)
        return read

    def _locate(self, cdir: Path, sid: str, now: float) -> list[Path]:
        cached = self._located.get((cdir, sid))
        if cached is not None and now - cached[0] < LOCATE_CACHE_S:
            return cached[1]
        found = self.claude_index(cdir).locate(sid)
        if len(self._located) > 1000:
            self._located.clear()
        self._located[(cdir, sid)] = (now, found)
        return found

    def _route_states(self, agents: Sequence[AgentConfig], facts: Sequence[AgentFacts],
                      folder_of: Mapping[str, Mapping[str, Path]],
                      summaries: Mapping[tuple[str, str], TranscriptSummary],
                      now: float) -> tuple[dict[str, RouteState], str | None, str | None, dict[str, str]]:
        read = self._read_routes()
        if read is None:
            return {}, None, None, {}
        if read.error is not None:
            return {}, str(read.path), read.error, {}
        out: dict[str, RouteState] = {}
        for agent, f in zip(agents, facts):
            sid = read.sessions.get(agent.name)
            shape = read.shapes.get(agent.name)
            if sid is None:
                out[agent.name] = RouteState(agent.name, None, shape)
                continue
            sid_key = sid.lower()
            if agent.kind == "codex":
                home = self.codex_home(agent)
                reader = self.codex_index(home).by_session(sid_key)
                out[agent.name] = RouteState(agent.name, sid, shape, reader is not None,
                                             reader.last_at if reader else None, None, str(home))
                continue
            if agent.kind not in TRANSCRIPT_KINDS:
                out[agent.name] = RouteState(agent.name, sid, shape, None)
                continue
            cdir = self.claude_dir(agent)
            hit = next((summaries[(folder, sid_key)] for folder in f.folders if (folder, sid_key) in summaries), None)
            if hit is not None:
                out[agent.name] = RouteState(agent.name, sid, shape, True, hit.last_at, None, str(cdir))
                continue
            elsewhere = self._locate(cdir, sid_key, now)
            out[agent.name] = RouteState(agent.name, sid, shape, False, None,
                                         str(elsewhere[0].parent) if elsewhere else None, str(cdir))
        return out, str(read.path), read.error, dict(read.bad_entries)

    def _bytes_read(self) -> int:
        return (sum(i.bytes_read for i in self._claude.values())
                + sum(i.bytes_read for i in self._codex.values()))

    # --- what the rest of the cockpit asks ------------------------------------------------
    def truth(self, name: str) -> SessionTruth | None:
        return self.last.truths.get(name) if self.last is not None else None

    def resume_for(self, agent: AgentConfig, bound: Sequence[str] = ()) -> str | None:
        """The session a respawn resumes: the last disk truth, never the routing record (seed #3).

        None (a fresh session) when the truth is unknown or ambiguous: a blank session is
        recoverable, a hijacked one is not. Kinds without transcripts fall back to the newest
        id cockpit bound.
        """
        truth = self.truth(agent.name)
        if agent.kind not in TRANSCRIPT_KINDS:
            if truth is not None and truth.disk_session:
                return truth.disk_session
            return bound[-1] if bound else None
        if truth is None or truth.ambiguous:
            return None
        return truth.disk_session

"""Which agent CLI would start now, and what the last passed promotion said it should be (seed #1).

An auto-updater repointed ``~/.local/bin/claude`` overnight and every fresh spawn crashed. Each tick
(cheap: a PATH lookup, ``os.readlink`` per hop, one ``realpath`` and one ``stat`` per distinct
command, in the observe worker thread), each agent's ``command[0]`` is resolved on its PATH and its
symlink chain followed; the result is compared with the newest row of ``STATE/promotions.jsonl``
(read incrementally) whose link is a hop of that chain:

- ``promotion``: written by ``cockpit doctor CANDIDATE --promote LINK`` after the candidate passed;
- ``baseline``: written here the first time a CLI is seen with no row at all (journalled, info):
  what ran before the cockpit watched it is trusted once, never silently again.

Rows: ``ts``, ``kind`` (promotion | baseline), ``link`` (the symlink, its directory resolved),
``link_given``, ``old_target``/``new_target`` (readlink values; promotions), ``resolved`` (the
final target, realpath), ``fingerprint`` (``size``, ``mtime_ns`` of the resolved file: an npm
update rewrites it in place), ``chain``, ``screen_sha256``/``screen_file`` (the doctor's evidence),
``actor``, ``agents``. Only ``claude-code`` and ``codex`` agents are watched by default: a generic
agent's ``command[0]`` is usually an interpreter the OS updates.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from cockpit.config import AgentConfig
from cockpit.locks import LockTimeout
from cockpit.records import PROMOTION_ROW
from cockpit.registry import JsonlStore, Journal, Row, Tail

__all__ = [
    "CliTarget",
    "DriftObserver",
    "PROMOTIONS_FILE",
    "PromotionLog",
    "fingerprint",
    "link_chain",
    "link_key",
    "resolve_command",
    "version_hint",
]

PROMOTIONS_FILE = "promotions.jsonl"
WATCHED_KINDS = ("claude-code", "codex")
MAX_HOPS = 40
_VERSION_RE = re.compile(r"(?<![\w.])v?(\d+\.\d+\.\d+(?:[-+.][0-9A-Za-z.-]+)?)")


# --- resolving a command ------------------------------------------------------------------------


def link_key(path: str | os.PathLike[str]) -> str:
    """A link's identity: absolute, its directory resolved (``~/bin`` via a symlinked home is one key)."""
    absolute = os.path.abspath(os.path.expanduser(os.fspath(path)))
    return os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))


def resolve_command(command: str, path_env: str | None, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """Where ``command`` is found: a path as given, else the first PATH entry holding that name.

    Unlike ``shutil.which`` a dangling symlink counts as found: a link an updater broke is exactly
    what must be reported, not skipped.
    """
    if not command:
        return None
    if "/" in command:
        base = os.fspath(cwd) if cwd is not None else os.getcwd()
        path = os.path.join(os.path.expanduser(base), os.path.expanduser(command))
        return os.path.abspath(path) if os.path.lexists(path) else None
    for directory in (path_env if path_env is not None else os.defpath).split(os.pathsep):
        if not directory:
            continue
        candidate = os.path.join(directory, command)
        if os.path.lexists(candidate) and (os.path.islink(candidate) or
                                           (os.path.isfile(candidate) and os.access(candidate, os.X_OK))):
            return os.path.abspath(candidate)
    return None


def link_chain(path: str) -> tuple[str, ...]:
    """``path`` and every symlink hop after it (absolute), as ``readlink`` reports them, at most MAX_HOPS."""
    hops = [path]
    current = path
    for _ in range(MAX_HOPS):
        try:
            target = os.readlink(current)
        except OSError:  # not a symlink (the end), or gone
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
        hops.append(current)
    return tuple(hops)


def fingerprint(path: str | None) -> dict[str, int] | None:
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return None if st is None else {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def version_hint(path: str | None) -> str | None:
    """The last ``X.Y.Z`` in a path (``versions/2.1.197``), for humans; None when there is none."""
    found = _VERSION_RE.findall(path or "")
    return found[-1] if found else None


# --- the promotions file ------------------------------------------------------------------------


class PromotionLog(JsonlStore):
    """STATE/promotions.jsonl: the promotions that passed ``cockpit doctor``, and first-seen baselines."""

    schema = PROMOTION_ROW

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._tail: Tail | None = None
        self._latest: dict[str, tuple[int, Row]] = {}
        self._seq = 0
        self._lock = threading.Lock()
        self.bad_lines = 0

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike[str], **kwargs: Any) -> PromotionLog:
        return cls(Path(state_dir).expanduser() / PROMOTIONS_FILE, **kwargs)

    def promoted(self, *, link: str, old_target: str | None, new_target: str, screen_sha256: str,
                 screen_file: str | None = None, actor: str = "doctor", **extra: Any) -> Row:
        resolved = os.path.realpath(link)
        return self.append({
            "kind": "promotion", "link": link_key(link), "link_given": os.fspath(link),
            "old_target": old_target, "new_target": new_target, "resolved": resolved,
            "fingerprint": fingerprint(resolved), "chain": list(link_chain(os.path.abspath(link))),
            "version": version_hint(resolved), "screen_sha256": screen_sha256, "screen_file": screen_file,
            "actor": actor, **extra,
        })

    def baseline(self, *, link: str, resolved: str, chain: Sequence[str], fp: Mapping[str, int] | None,
                 agents: Sequence[str], actor: str = "cockpit") -> Row:
        return self.append({
            "kind": "baseline", "link": link_key(link), "link_given": link, "resolved": resolved,
            "fingerprint": dict(fp) if fp else None, "chain": list(chain), "version": version_hint(resolved),
            "agents": list(agents), "actor": actor,
        })

    def latest(self) -> dict[str, tuple[int, Row]]:
        """Link key -> (order, newest row), read incrementally (a replaced file is read again)."""
        with self._lock:
            if self._tail is None:
                self._tail = self.tail()
            got = self._tail.read_new()
            if got.reset:
                self._latest.clear()
            self.bad_lines += got.bad_lines
            for row in got.rows:
                key = row.get("link")
                if row.get("kind") in ("promotion", "baseline") and isinstance(key, str) and key \
                        and isinstance(row.get("resolved"), str):
                    self._seq += 1
                    self._latest[key] = (self._seq, row)
            return dict(self._latest)

    def last_for(self, link: str) -> Row | None:
        found = self.latest().get(link_key(link))
        return found[1] if found else None

    def close(self) -> None:
        with self._lock:
            if self._tail is not None:
                self._tail.close()
                self._tail = None


# --- one observation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CliTarget:
    """One agent CLI as resolved this tick, with what the last passed promotion expects."""
    command: str                        # command[0] as configured
    link: str | None                    # where it was found (on PATH); None: not found
    chain: tuple[str, ...] = ()         # link, then each symlink hop
    resolved: str | None = None         # realpath of the link
    exists: bool = False                # the resolved file exists
    fingerprint: Mapping[str, int] | None = None
    agents: tuple[str, ...] = ()
    expected: Mapping[str, Any] | None = None   # the newest promotion/baseline row of a hop of the chain
    baseline_recorded: bool = False     # this observation wrote (or, read-only, remembered) the first baseline
    error: str | None = None

    @property
    def version(self) -> str | None:
        return version_hint(self.resolved)

    def to_json(self) -> dict[str, Any]:
        return {"command": self.command, "link": self.link, "chain": list(self.chain), "resolved": self.resolved,
                "exists": self.exists, "fingerprint": dict(self.fingerprint) if self.fingerprint else None,
                "version": self.version, "agents": list(self.agents),
                "expected": dict(self.expected) if self.expected else None,
                "baseline_recorded": self.baseline_recorded, "error": self.error}


@dataclass
class _Memo:
    rows: dict[str, Row] = field(default_factory=dict)  # link key -> baseline remembered without writing


class DriftObserver:
    """Resolves each watched agent's CLI and looks up its last passed promotion; writes first baselines.

    Blocking (stat/readlink and, once per new CLI, an append): call ``observe`` from a worker thread.
    """

    def __init__(self, state_dir: str | os.PathLike[str], *, clock: Callable[[], float] = time.time,
                 journal: Journal | None = None, kinds: Iterable[str] = WATCHED_KINDS,
                 environ: Mapping[str, str] | None = None) -> None:
        self.log = PromotionLog.in_state_dir(state_dir, clock=clock)
        self.journal = journal
        self.clock = clock
        self.kinds = tuple(kinds)
        self.environ = environ
        self._memo = _Memo()
        self.last: tuple[CliTarget, ...] = ()

    def _path_env(self, agent: AgentConfig) -> str | None:
        if "PATH" in agent.env:
            return agent.env["PATH"]
        return (self.environ if self.environ is not None else os.environ).get("PATH")

    def observe(self, agents: Sequence[AgentConfig], *, write: bool = True) -> tuple[CliTarget, ...]:
        # one target per link found (agents sharing a CLI share its finding), or per command not found
        groups: dict[tuple[str, str], tuple[str, str | None, list[AgentConfig]]] = {}
        resolved_here: dict[tuple[str, str | None, str | None], str | None] = {}  # a fleet shares a few CLIs
        for agent in agents:
            if agent.kind in self.kinds and agent.command:
                command, path_env = agent.command[0], self._path_env(agent)
                key = (command, path_env, os.fspath(agent.cwd) if "/" in command else None)
                if key not in resolved_here:
                    resolved_here[key] = resolve_command(command, path_env, agent.cwd)
                found = resolved_here[key]
                key = ("link", found) if found is not None else ("missing", agent.command[0])
                groups.setdefault(key, (agent.command[0], found, []))[2].append(agent)
        latest = self.log.latest() if groups else {}
        out: list[CliTarget] = []
        for command, found, members in groups.values():
            names = tuple(a.name for a in members)
            if found is None:
                out.append(CliTarget(command, None, agents=names, error=f"{command} not found on the agents' PATH"))
                continue
            chain = link_chain(found)
            resolved = os.path.realpath(found)
            fp = fingerprint(resolved)
            keys = [link_key(hop) for hop in chain]
            rows = [latest[k] for k in keys if k in latest]
            expected: Row | None = max(rows, key=lambda r: r[0])[1] if rows else None
            if expected is None:
                expected = next((self._memo.rows[k] for k in keys if k in self._memo.rows), None)
            recorded = False
            if expected is None and fp is not None:
                expected, recorded = self._baseline(found, resolved, chain, fp, names, write), True
                latest = self.log.latest()  # another command resolving to this link must not write it again
            out.append(CliTarget(command, found, chain, resolved, fp is not None, fp, names, expected, recorded))
        self.last = tuple(out)
        return self.last

    def _baseline(self, link: str, resolved: str, chain: Sequence[str], fp: Mapping[str, int],
                  agents: Sequence[str], write: bool) -> Row:
        """The first sight of a CLI nobody promoted: trusted once, recorded (and journalled) as the baseline."""
        row: Row = {"kind": "baseline", "link": link_key(link), "link_given": link, "resolved": resolved,
                    "fingerprint": dict(fp), "chain": list(chain), "version": version_hint(resolved),
                    "agents": list(agents)}
        if write:
            try:
                row = self.log.baseline(link=link, resolved=resolved, chain=chain, fp=fp, agents=agents)
                if self.journal is not None:
                    self.journal.record(
                        "info", actor="cockpit", agent=agents[0] if len(agents) == 1 else None,
                        summary=(f"version baseline: {link} -> {resolved} (first seen, no promotion recorded; "
                                 f"a later change nobody promoted is version_drift)"),
                        evidence=row)
                return row
            except (OSError, LockTimeout):
                pass  # an unwritable state dir: remember it in memory, the drift check still works
        self._memo.rows[row["link"]] = row
        return row

    def close(self) -> None:
        self.log.close()

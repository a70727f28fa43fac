"""Finding the agents that already run on a tmux server (``cockpit init``, ``cockpit adopt``).

A pane holds an agent when a process of its tree runs Claude Code or Codex (or matches the
operator's ``--match``): the shallowest such process is the agent (a pane started by hand often
runs a shell with the agent as its child). From that process come the agent's cwd
(``/proc/PID/cwd``), its argv (session flags removed: a respawn adds its own), its Claude or
Codex home (from its environment) and its live session (Claude Code's ``sessions/<pid>.json``
whose pid AND procStart match).

The pure helpers (``program_of``, ``guess_kind``, ``strip_session_flags``, ``agent_names``)
take plain data; ``scan`` does the reading (one ``list-panes -a``, one /proc walk).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from cockpit.claude_paths import live_session_path
from cockpit.observe.procs import Proc, ProcessReader, ProcessTable
from cockpit.tmux import PANE_FORMAT, Pane, parse_pane_line

_INTERPRETER = re.compile(r"^(python[0-9.]*|node(js)?|bun|deno)$")
_SCRIPT_SUFFIX = re.compile(r"\.(js|mjs|cjs|py)$")
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NAME_BAD_RUN = re.compile(r"[^A-Za-z0-9_.-]+")
KINDS = {"claude": "claude-code", "codex": "codex"}
# The only environment init copies, for the kind it belongs to (never keys or tokens).
HOME_VARS = {"CLAUDE_CONFIG_DIR": "claude-code", "CODEX_HOME": "codex"}
_CLAUDE_FLAGS_WITH_VALUE = ("--session-id",)
_CLAUDE_FLAGS_OPTIONAL_VALUE = ("--resume", "-r")
_CLAUDE_FLAGS_ALONE = ("--continue", "-c", "--fork-session")


# --- pure helpers ---------------------------------------------------------------------------


def program_of(cmdline: Sequence[str], comm: str = "") -> str:
    """The program a command line runs: ``node /x/codex.js`` is ``codex``, ``/usr/bin/claude`` is ``claude``."""
    if not cmdline:
        return comm
    first = os.path.basename(cmdline[0]).lstrip("-")  # a login shell is "-bash"
    if _INTERPRETER.match(first) and len(cmdline) > 1 and not cmdline[1].startswith("-"):
        return _SCRIPT_SUFFIX.sub("", os.path.basename(cmdline[1]))
    return first


def guess_kind(cmdline: Sequence[str], comm: str = "") -> str | None:
    """``claude-code`` or ``codex`` from the program (or the kernel's name for it); None otherwise."""
    for name in (program_of(cmdline, comm), comm):
        kind = KINDS.get(name)
        if kind is not None:
            return kind
    if cmdline and "/claude/versions/" in cmdline[0]:  # a native install run through its versions dir
        return "claude-code"
    return None


def launch_argv(cmdline: Sequence[str], executable: Callable[[str], bool] = lambda p: os.access(p, os.X_OK)) -> list[str]:
    """The argv to start the program again: an interpreter in front of an executable script is dropped."""
    argv = list(cmdline)
    first = os.path.basename(argv[0]) if argv else ""
    if _INTERPRETER.match(first) and len(argv) > 1 and os.path.isabs(argv[1]) and executable(argv[1]):
        return argv[1:]
    return argv


def strip_session_flags(argv: Sequence[str], kind: str | None) -> tuple[list[str], list[str]]:
    """``argv`` without the flags that pick a session (a respawn adds its own); returns (kept, removed)."""
    kept: list[str] = [argv[0]] if argv else []
    removed: list[str] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        flag = arg.split("=", 1)[0]
        if flag in _CLAUDE_FLAGS_WITH_VALUE + _CLAUDE_FLAGS_OPTIONAL_VALUE and "=" in arg and flag.startswith("--"):
            removed.append(arg)
        elif arg in _CLAUDE_FLAGS_WITH_VALUE:
            removed += argv[i:i + 2]
            i += 1
        elif arg in _CLAUDE_FLAGS_OPTIONAL_VALUE:
            takes = i + 1 < len(argv) and not argv[i + 1].startswith("-")
            removed += argv[i:i + 2] if takes else [arg]
            i += 1 if takes else 0
        elif arg in _CLAUDE_FLAGS_ALONE:
            removed.append(arg)
        elif kind == "codex" and arg == "resume" and "resume" not in removed:
            takes = i + 1 < len(argv) and (not argv[i + 1].startswith("-") or argv[i + 1] == "--last")
            removed += argv[i:i + 2] if takes else [arg]
            i += 1 if takes else 0
        else:
            kept.append(arg)
        i += 1
    return kept, removed


def valid_name(text: str, fallback: str = "agent") -> str:
    """A window name as an agent name: ``[A-Za-z0-9][A-Za-z0-9_.-]{0,63}``."""
    name = _NAME_BAD_RUN.sub("-", text).lstrip("-_.")[:64].rstrip("-_.")
    return name if _NAME_OK.match(name) else fallback


def agent_names(wanted: Iterable[tuple[str, str]], taken: Iterable[str] = ()) -> list[str]:
    """Unique valid names for ``(window name, fallback)`` pairs, in order: ``tabs``, ``tabs-2``, ..."""
    used = set(taken)
    out: list[str] = []
    for window, fallback in wanted:
        base = valid_name(window, valid_name(fallback))
        name, n = base, 1
        while name in used:
            n += 1
            suffix = f"-{n}"
            name = base[:64 - len(suffix)] + suffix
        used.add(name)
        out.append(name)
    return out


# --- what a scan finds ------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A pane whose process tree runs an agent."""
    pane: Pane
    proc: Proc                       # the agent process (the shallowest match in the pane's tree)
    kind: str                        # claude-code | codex | generic
    program: str
    cwd: str
    argv: tuple[str, ...]            # to start it again, session flags removed
    removed: tuple[str, ...] = ()    # the session flags removed
    env: dict[str, str] = field(default_factory=dict)   # CLAUDE_CONFIG_DIR / CODEX_HOME when set
    session_id: str | None = None    # its live session (Claude Code's sessions/<pid>.json)
    name: str = ""                   # assigned by ``name_found``

    @property
    def where(self) -> str:
        return f"{self.pane.session}:{self.pane.window_index} ({self.pane.window_name}) {self.pane.pane_id}"


@dataclass(frozen=True)
class Skipped:
    pane: Pane
    reason: str

    @property
    def where(self) -> str:
        return f"{self.pane.session}:{self.pane.window_index} ({self.pane.window_name}) {self.pane.pane_id}"


@dataclass(frozen=True)
class Scan:
    found: tuple[Found, ...]
    skipped: tuple[Skipped, ...]


class ScanError(Exception):
    """The tmux server cannot be read: one line for the operator."""


def list_panes(server_args: Sequence[str], *, timeout: float = 10.0) -> list[Pane]:
    """Every pane of the server (one ``tmux list-panes -a``); ``ScanError`` when there is no server."""
    try:
        proc = subprocess.run(["tmux", *server_args, "list-panes", "-a", "-F", PANE_FORMAT], capture_output=True,
                              text=True, errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScanError(f"tmux {' '.join(server_args)}: {exc}") from None
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit status {proc.returncode}"
        raise ScanError(f"no tmux server to read on {' '.join(server_args)} ({why})")
    return [p for line in proc.stdout.splitlines() if (p := parse_pane_line(line)) is not None]


def tree_bfs(table: ProcessTable, root: int) -> list[Proc]:
    """The pane's processes, shallowest first (a shell before the agent it started)."""
    first = table.get(root)
    out: list[Proc] = []
    level = [first] if first is not None else []
    seen: set[int] = set()
    while level:
        nxt: list[Proc] = []
        for proc in level:
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            out.append(proc)
            nxt += table.children(proc.pid)
        level = nxt
    return out


def _read_environ(pid: int, names: Iterable[str]) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            raw = fh.read(1 << 20)
    except OSError:
        return {}
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, _, value = item.partition(b"=")
        name = key.decode("utf-8", "replace")
        if name in names and value:
            out[name] = value.decode("utf-8", "surrogateescape")
    return out


def live_session_of(tree: Sequence[Proc], config_dir: Path) -> str | None:
    """The session id of a Claude Code live-session file of a process in ``tree`` (pid AND procStart match)."""
    for proc in tree:
        try:
            with open(live_session_path(config_dir, proc.pid), "rb") as fh:
                data = json.loads(fh.read(64 << 10))
        except (OSError, ValueError, RecursionError):
            continue
        if not isinstance(data, dict) or str(data.get("pid")) != str(proc.pid):
            continue
        if data.get("procStart") is not None and str(data.get("procStart")) != str(proc.start):
            continue
        sid = data.get("sessionId")
        if isinstance(sid, str) and sid:
            return sid
    return None


def one_shot(cmdline: Sequence[str], kind: str | None) -> bool:
    """A one-shot run (``claude -p``, ``codex exec``: a sub-agent or a script's call), not an interactive agent."""
    args = list(cmdline[1:])
    if kind == "claude-code":
        return "-p" in args or "--print" in args
    if kind == "codex":
        return bool(args) and next((a for a in args if not a.startswith("-")), "") in ("exec", "e")
    return False


def find_agent(tree: Sequence[Proc], match: re.Pattern[str] | None) -> tuple[Proc | None, Proc | None]:
    """The shallowest process of the tree that is an agent (or matches ``match``); and, when there is
    none, a one-shot run that was passed over (``claude -p``: the reason a pane is skipped)."""
    passed: Proc | None = None
    for proc in tree:
        if proc.zombie:
            continue
        if match is not None:
            if proc.cmdline and match.search(" ".join(proc.cmdline)):
                return proc, None
            continue
        kind = guess_kind(proc.cmdline, proc.comm)
        if kind is not None and one_shot(proc.cmdline, kind):
            passed = passed or proc
        elif kind is not None:
            return proc, None
    return None, passed


def describe(proc: Proc | None, tree: Sequence[Proc]) -> str:
    shown = [p.command for p in tree[:3] if p.command] or ([proc.command] if proc is not None else [])
    text = " → ".join(c if len(c) <= 60 else c[:59] + "…" for c in shown)
    return text or "nothing readable"


def examine(pane: Pane, table: ProcessTable, match: re.Pattern[str] | None, *, self_pid: int,
            default_claude_dir: Path) -> Found | Skipped:
    """One pane: an agent, or why not."""
    if pane.session.startswith("cockpit-ctl-"):
        return Skipped(pane, "a cockpit's own control session")
    if pane.agent:
        return Skipped(pane, f"already an agent of a cockpit ({pane.agent})")
    if pane.dead:
        return Skipped(pane, "the pane is dead")
    tree = tree_bfs(table, pane.pid)
    if any(p.pid == self_pid for p in tree):
        return Skipped(pane, "it runs this cockpit init")
    agent, passed = find_agent(tree, match)
    if agent is None and passed is not None:
        return Skipped(pane, f"a one-shot run, not an interactive agent ({describe(passed, [passed])})")
    if agent is None:
        what = f"nothing matches --match {match.pattern!r}" if match is not None else "no Claude Code or Codex"
        return Skipped(pane, f"{what} in its processes ({describe(None, tree)})")
    kind = guess_kind(agent.cmdline, agent.comm) or "generic"
    try:
        cwd = os.readlink(f"/proc/{agent.pid}/cwd")
    except OSError as exc:
        return Skipped(pane, f"cannot read the cwd of pid {agent.pid}: {exc.strerror or exc}")
    if not agent.cmdline:
        return Skipped(pane, f"pid {agent.pid} has no readable command line")
    argv, removed = strip_session_flags(launch_argv(agent.cmdline), kind)
    homes = _read_environ(agent.pid, HOME_VARS)
    claude_dir = Path(homes["CLAUDE_CONFIG_DIR"]) if "CLAUDE_CONFIG_DIR" in homes else default_claude_dir
    env = {k: v for k, v in homes.items() if HOME_VARS.get(k) == kind}  # the agent's own home, when set
    session = live_session_of(table.descendants(agent.pid), claude_dir)
    return Found(pane=pane, proc=agent, kind=kind, program=program_of(agent.cmdline, agent.comm), cwd=cwd,
                 argv=tuple(argv), removed=tuple(removed), env=env, session_id=session)


def scan(server_args: Sequence[str], match: re.Pattern[str] | None = None, *, reader: ProcessReader | None = None,
         default_claude_dir: Path | None = None, self_pid: int | None = None) -> Scan:
    """Every pane of the server, examined (blocking: /proc and one tmux command)."""
    panes = list_panes(server_args)
    reader = reader or ProcessReader()
    table = reader.tree([p.pid for p in panes if not p.dead and p.pid > 0])
    claude_dir = default_claude_dir or Path(os.environ.get("CLAUDE_CONFIG_DIR") or "~/.claude").expanduser()
    me = os.getpid() if self_pid is None else self_pid
    found: list[Found] = []
    skipped: list[Skipped] = []
    for pane in sorted(panes, key=lambda p: (p.session, p.window_index, _pane_number(p))):
        result = examine(pane, table, match, self_pid=me, default_claude_dir=claude_dir)
        (found if isinstance(result, Found) else skipped).append(result)  # type: ignore[arg-type]
    return Scan(tuple(name_found(found)), tuple(skipped))


def name_found(found: Sequence[Found], taken: Iterable[str] = ()) -> list[Found]:
    names = agent_names([(f.pane.window_name, f.program) for f in found], taken)
    return [replace(f, name=n) for f, n in zip(found, names)]


def _pane_number(pane: Pane) -> int:
    try:
        return int(pane.pane_id.lstrip("%"))
    except ValueError:
        return -1

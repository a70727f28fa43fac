"""``cockpit demo``: a throw-away world of simulated agents, one of each fault, and the TUI on it.

The world lives in one temp directory: a fake Claude config dir, a home, a state dir, a work dir
per agent (two agents share one), a routing record, a gateway log and the config (also written as
``cockpit.toml``, so ``cockpit check --config <world>/cockpit.toml`` works against it). The agents
run on a private tmux socket ``cockpit-demo-<hex>``. The supervisor spawns every agent on its first
ticks, through the real verified spawn path, but one: flaky is started by hand, the way an operator's
fleet already runs (a plain window of the session ``desk``), and adopted with ``cockpit adopt`` before
the supervisor starts (SPEC §11: same pid); its first crash is respawned into a window of its own in
the cockpit's session, and its pairing conversation (tool calls, Markdown replies) is what ``c`` shows.

Besides the agents, the world runs what issues 4-6 need to be seen (``faults=True``):
- seed #3: the gateway's routing record points scribe at yesterday's session while a newer one is
  live; tabs and scribe share one cwd. The "gateway" process writes its cached (stale) route back
  once, a few seconds after the leader repointed it: the leader does not fight a writer (the finding
  stays) and the operator repoints with ``p``.
- seed #9: two sub-agent wrappers (``cockpit-sim -p ... --linger-s 600``, stdout to files under the
  world, matched by a ``[[wrappers]]`` rule) that wrote their result line and never exit: zombies
  ``zombie_grace_s`` (10 s) later; and a sub-agent registered as ghost's (as ``cockpit wrap
  --agent ghost`` registers its runs) whose parent agent is gone (ghost is fatal): an orphan. ``auto_reap`` is off in the demo so the operator sees them and
  reaps them with ``k``/``ctrl+k``.
- seed #7: the gateway appends ``[event-loop-block] tick took 1855ms - ...`` to its log every 20 s,
  tailed through the config's ``[[logs]]`` entry; in the TUI the demo-only key ``b`` blocks the
  cockpit's own loop 600 ms on purpose, so the Blocks tab shows a trace with its stack.
- seed #6: three reminders in the world's queue: a notice for tabs (journal, toast and
  ``notice_command``, never its pane), a wake for tabs that it picks up (verified by the new user
  record in its transcript), and a wake for api, which ignores its input: missed, retried
  ``wake_retries`` times, then one alert.
- seed #1: every agent runs ``cli/bin/claude``, a symlink to ``cli/versions/2.1.197``; next to it a
  good candidate (2.1.198) and a broken one (2.1.199: fine with ``--version``, crashes with
  ``TypeError: g9H is not a function`` when booted with the production flags) for ``cockpit doctor``.
- seed #5: two canaries: the CLI answers ``--version`` (passes); the nightly report, last written
  two days ago, is older than its one-day limit (``canary_failed``).
- seed #11: relay recommends trusting the disk, takes a pushback and folds ("You're right, scrap
  mine") without reading anything: ``fold_under_pressure``.

Quitting tears the world down (SPEC §4: no tmux server or process is left behind): kill the tmux
server, end every process that still carries the world's marker (SIGTERM, then SIGKILL; each one
signalled only after its pid and start time match, SPEC §6), remove the socket and the directory.

Nothing here imports Textual; ``run_demo`` imports the TUI lazily.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence, TextIO

from cockpit.act.stop import stop_verified_sync
from cockpit.claude_paths import transcript_path
from cockpit.config import Config, parse_config
from cockpit.fsutil import atomic_write, atomic_write_json, ensure_private_dir
from cockpit.observe.procs import ProcessReader
from cockpit.registry import Registry, new_spawn_id
from cockpit.tmux import kill_server_sync

__all__ = [
    "DEFAULT_AGENTS",
    "DemoAgent",
    "DemoError",
    "DemoInterrupted",
    "DemoWorld",
    "demo_agents",
    "destroy_world",
    "world_processes",
    "lag_probe",
    "run_demo",
]

DEFAULT_AGENTS = 8
MAX_AGENTS = 1000
SOCKET_PREFIX = "cockpit-demo-"
SESSION = "agents"
WORLD_SESSION = "world"  # the gateway and the sub-agent wrappers: the world's, not the fleet's
OUTSIDE_SESSION = "desk"  # the operator's own session: the agent started by hand, then adopted
ADOPTED = "flaky"
MARKER_ENV = "COCKPIT_DEMO"  # every process of the world carries COCKPIT_DEMO=<world dir>
SIM = (sys.executable, "-m", "cockpit.sim")

# The demo's supervisor settings. Chosen so the faults show what they should, for as long as the
# demo runs (seed #2):
# - ghost dies 50 ms after each start; backoff 1 s, 2 s, 2 s: its 4 failures fall within ~9 s,
#   more than max_restarts (3) inside restart_window_s (12 s) -> fatal + respawn_exhausted + alert.
# - deaf never binds its port: each attempt fails after spawn_verify_s (4 s), so 4 failures span
#   at least (1+4)+(2+4)+(2+4) = 17 s > 12 s: it keeps failing verification (spawn_failed), never fatal.
# - flaky crashes ~20 s after each good start: one failure per window, restarts count up forever.
# - the wrappers: a result line 10 s old makes a zombie (zombie_grace_s); auto_reap is off so they
#   stay on screen until the operator reaps them (k asks first, ctrl+k does not); a reap waits
#   stop_wait_s (3 s) after TERM before KILL.
DEMO_SUPERVISOR: Mapping[str, Any] = {
    "tick_s": 1.0,
    "spawn_verify_s": 4.0,
    "min_uptime_s": 1.0,
    "max_restarts": 3,
    "restart_window_s": 12.0,
    "backoff_max_s": 2.0,
    "max_actions_per_minute": 120,
    "zombie_grace_s": 10.0,
    "stop_wait_s": 3.0,
    "auto_reap": False,
    "wake_verify_s": 5.0,   # api ignores its input: missed after 5 s, twice retried, alerted within ~25 s
    "wake_retries": 2,
}

# seed #6: the reminders the demo schedules (seconds after the world is built): a notice for the
# humans, a wake that tabs picks up (verified in its transcript), a wake api ignores (missed).
NOTICE_AFTER_S = 8.0
WAKE_AFTER_S = 15.0
MISSED_WAKE_AFTER_S = 18.0
FOLD_AFTER_S = 12  # seed #11: relay folds under a pushback this long after it starts

# seed #1: the demo's agent CLI. bin/claude -> versions/CURRENT; two candidates sit next to it.
CLI_CURRENT = "2.1.197"
CLI_GOOD = "2.1.198"    # boots fine with the production flags: doctor passes it, promote repoints bin/claude
CLI_BROKEN = "2.1.199"  # --version and --help are fine, but with the production flags it crashes
CLI_BROKEN_ARG = "--append-system-prompt"
DOCTOR_ARGS = ("--permission-mode", "acceptEdits", CLI_BROKEN_ARG, "You are an agent of the cockpit demo.")
REPORT_AGE_S = 2 * 86400.0  # the nightly report the canary watches was last written two days ago

GATEWAY_BLOCK_EVERY_S = 20.0  # the gateway's log reports a block this often (seed #7)
GATEWAY_FIRST_BLOCK_S = 6.0   # ...the first one soon after the demo starts
GATEWAY_BLOCK_LINE = "[event-loop-block] tick took 1855ms - no tracked work active (untracked culprit)"
GATEWAY_REVERT_AFTER_S = 2.0  # after the cockpit repoints the stale route, the gateway's cache writes it back once
WRAPPER_LINGER_S = 600.0      # the zombie wrappers' life after their result (teardown ends them sooner)
ORPHAN_REPLY_DELAY_S = 900.0  # the orphan never answers while the demo runs

# The agent CLI's versions (executables under <world>/cli/versions/): the simulator under a version
# number, or, for the broken one, the crash of seed #1 when booted with the production flags.
_CLI_GOOD_CODE = """
import sys
import cockpit.sim.agent as sim
sim.VERSION = {version!r}
sys.exit(sim.main())
"""
_CLI_BROKEN_CODE = """
import sys
import cockpit.sim.agent as sim
sim.VERSION = {version!r}
args = sys.argv[1:]
if {arg!r} in args and not {{"-v", "--version", "-h", "--help"}} & set(args):
    # seed #1: a code path only the production flags reach is broken in this version
    print("file:///usr/lib/node_modules/@anthropic-ai/claude-code/cli.js:9251", flush=True)
    print("TypeError: g9H is not a function", flush=True)
    print("    at Object.resume (file:///usr/lib/node_modules/@anthropic-ai/claude-code/cli.js:9251:17)", flush=True)
    print("Error: sandbox required but unavailable", file=sys.stderr, flush=True)
    sys.exit(1)
sys.exit(sim.main())
"""

TEARDOWN_GRACE_S = 2.0  # after kill-server: time for the panes' processes to exit on their SIGHUP
TERM_WAIT_S = 2.0       # after SIGTERM, before SIGKILL
SIGNAL_ESCALATE_S = 5.0  # SIGTERM/SIGHUP: the app gets this long to quit cleanly, then we stop it hard


class DemoError(Exception):
    """The world could not be built (tmux missing, no temp dir...): one line for the operator."""


class DemoInterrupted(SystemExit):
    """SIGTERM/SIGHUP arrived: unwind (a SystemExit passes through asyncio and Textual), then tear down."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


# --- the agents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAgent:
    """One simulated agent of the demo: how it is configured and what it shows the operator."""
    name: str
    kind: str                   # claude-code | generic
    flags: tuple[str, ...]      # cockpit-sim switches ("{port}" is replaced by the agent's port)
    cwd: str                    # work dir name under <world>/work (shared by two agents)
    shows: str                  # what the operator should see, in one line
    port: bool = False          # gets a free TCP port as its `port`


# The eight of the demo, in display order; ``rank`` picks the most telling ones when fewer are asked.
_CAST: tuple[tuple[int, DemoAgent], ...] = (
    (0, DemoAgent("tabs", "claude-code", ("--chat-every-s", "3"), "shop",
                  "healthy; chats every 3 s; shares its cwd with scribe; a wake reminder ~15 s in "
                  "is typed into its pane and verified in its transcript")),
    (7, DemoAgent("scribe", "claude-code", ("--chat-every-s", "5"), "shop",
                  "healthy; chats every 5 s; its routing record points at an old session (stale route; "
                  "the gateway writes it back once: press p)")),
    (5, DemoAgent("api", "claude-code", ("--port", "{port}", "--ignore-input"), "api",
                  "serves its port but ignores typed input: its wake reminder is missed, retried, "
                  "then alerted", port=True)),
    (6, DemoAgent("relay", "generic", ("--session-id", "{session_id}", "--chat-every-s", "8",
                                       "--fold-after-s", str(FOLD_AFTER_S)), "relay",
                  "healthy generic agent; chats every 8 s; folds under a pushback once (you're right, "
                  "scrap mine)")),
    (1, DemoAgent("ghost", "claude-code", ("--die-after-ms", "50"), "ghost",
                  "dies 50 ms after every start: restart budget spent -> fatal; its sub-agent is an orphan")),
    (2, DemoAgent("deaf", "claude-code", ("--port", "{port}", "--no-bind"), "deaf",
                  "never binds its port: every spawn fails verification", port=True)),
    (3, DemoAgent("flaky", "claude-code", ("--crash-after-s", "20", "--converse-every-s", "6"), "flaky",
                  "started by hand in a plain window (session desk) and adopted, same pid; crashes ~20 s after "
                  "each good start: respawned into a window of its own, restarts count up; a pairing session "
                  "(c reads it, s talks to it)")),
    (4, DemoAgent("asker", "claude-code", ("--prompt-permission",), "asker",
                  "waits at a permission prompt (type 1 or 2 in its pane)")),
)
_EXTRA_CHAT_S = (4, 5, 6, 7, 8)


def demo_agents(n: int = DEFAULT_AGENTS, *, faults: bool = True,
                chat_every_s: tuple[float, float] | None = None) -> list[DemoAgent]:
    """The demo's agents: the eight of the cast (the most telling first when n < 8), then plain
    chatting claude-code agents ``worker-09``... With ``faults=False`` every agent is a plain,
    healthy chatter, chatting every ``chat_every_s`` (a range spread over the fleet)."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_AGENTS:
        raise DemoError(f"--agents: expected an integer from 1 to {MAX_AGENTS}, got {n!r}")
    if not faults:
        low, high = chat_every_s or (20.0, 40.0)
        width = len(str(n))
        out = []
        for i in range(n):
            every = low if n == 1 else low + (high - low) * i / (n - 1)
            out.append(DemoAgent(f"sim-{i + 1:0{width}d}", "claude-code", ("--chat-every-s", f"{every:g}"),
                                 f"sim-{i + 1:0{width}d}", f"healthy; chats every {every:g} s"))
        return out
    if n <= len(_CAST):
        keep = {agent.name for rank, agent in _CAST if rank < n}
        agents = [agent for _, agent in _CAST if agent.name in keep]
    else:
        agents = [agent for _, agent in _CAST]
    for i in range(len(agents), n):
        name = f"worker-{i + 1:02d}"
        every = _EXTRA_CHAT_S[i % len(_EXTRA_CHAT_S)]
        if chat_every_s is not None:
            every = chat_every_s[0]
        agents.append(DemoAgent(name, "claude-code", ("--chat-every-s", f"{every:g}"), name,
                                f"healthy; chats every {every:g} s"))
    return agents


# --- the world's background processes -------------------------------------------------------------

# The "gateway": appends event-loop-block lines to its log (seed #7), and writes its cached route
# for one agent back over the cockpit's repoint, once (seed #3: the cache lies). It runs in a
# window of the world's tmux server (kill-server ends it) and exits when the world's dir is gone.
_GATEWAY_CODE = r"""
import json, os, sys, time
from datetime import datetime, timezone
log, routes, agent, stale, root, line = sys.argv[1:7]
every, first, revert_after = (float(v) for v in sys.argv[7:10])

def stamp():
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"

def say(text):
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"{stamp()} {text}\n")

def route():
    try:
        with open(routes, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None, None
    value = data.get(agent) if isinstance(data, dict) else None
    return data, value.get("session_id") if isinstance(value, dict) else value

next_block = time.monotonic() + first
moved_at = None
pending = bool(agent and stale)
while os.path.isdir(root):
    now = time.monotonic()
    if now >= next_block:
        say(line)
        next_block = now + every
    if pending:
        data, current = route()
        if current and current != stale:
            moved_at = moved_at or now
            if now - moved_at >= revert_after:
                data[agent] = stale
                tmp = routes + ".gateway-tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh)
                os.replace(tmp, routes)
                say(f"[gateway] routes: {agent} -> {stale} written back from the gateway's cache")
                pending = False
    time.sleep(0.5)
"""


# alert_command and notice_command of the demo: append the JSON they get on stdin to a file of the world.
_APPEND_STDIN = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read().strip() + '\\n')"


def _script_head(comment: str) -> str:
    """The first lines of an executable Python script run by this interpreter.

    A ``#!`` line cannot hold whitespace and has a length limit; for such an interpreter path the
    script starts as a ``/bin/sh`` one whose first statement execs the interpreter on the script:
    ``"exec" '/path/to/python' "$0" "$@"`` is a shell command and, to Python, a harmless string."""
    python = sys.executable
    if python and not any(c.isspace() for c in python) and len(python) < 120:
        return f"#!{python}\n# {comment}\n"
    return f'#!/bin/sh\n# {comment}\n"exec" {shlex.quote(python)} "$0" "$@"\n'


# A wrapper's stdout is a file (what `claude -p ... > out.jsonl` does): open it, then exec the command.
_EXEC_TO_FILE = ("import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); "
                 "os.dup2(fd, 1); os.close(fd); os.execvp(sys.argv[2], sys.argv[2:])")


# --- small helpers --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml_str(text: str) -> str:
    # JSON's escapes are a subset of TOML's; DEL is the one control character JSON leaves raw.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(value)
    if isinstance(value, (str, Path)):
        return _toml_str(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(data: Mapping[str, Any], header: str = "") -> str:
    """A config dict (tables of scalars, and arrays of tables) as TOML text."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for name, value in data.items():
        if isinstance(value, Mapping):
            lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, (list, tuple)) and all(isinstance(v, Mapping) for v in value):
            for table in value:
                lines += ["", f"[[{name}]]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        else:
            lines.append(f"{name} = {_toml_value(value)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _ancestors(pid: int, reader: ProcessReader) -> set[int]:
    out: set[int] = set()
    while pid > 1 and pid not in out:
        out.add(pid)
        proc = reader.read(pid)
        if proc is None:
            break
        pid = proc.ppid
    return out


def world_processes(root: Path, socket_name: str, *, exclude: Iterable[int] = (),
                    reader: ProcessReader | None = None) -> dict[int, int]:
    """Processes of a demo world, as ``{pid: start}``: their environment carries the world's marker
    (``COCKPIT_DEMO=<root>``, or HOME / CLAUDE_CONFIG_DIR inside it), or their command line names
    the world dir or its tmux socket. Zombies are left out (nothing to signal); so are ``exclude``.

    Environment entries are matched whole, not as substrings: an operator's shell that merely
    ``cd``-ed into the world (PWD=...) is not the demo's.
    """
    reader = reader or ProcessReader()
    root_s = str(root).rstrip("/")
    root_b = root_s.encode()
    marks = {f"{MARKER_ENV}=".encode() + root_b}
    prefixes = tuple(f"{var}=".encode() + root_b + b"/" for var in ("HOME", "CLAUDE_CONFIG_DIR"))
    skip = set(exclude) | {os.getpid()}
    found: dict[int, int] = {}
    for proc in reader.scan_all():
        if proc.pid in skip or proc.zombie:
            continue
        args = proc.cmdline
        hit = any(root_s + "/" in a for a in args) or any(
            a == root_s or a == socket_name or a == "-L" + socket_name or a.endswith("/" + socket_name)
            for a in args)
        if not hit:
            hit = any(e in marks or e.startswith(prefixes) for e in reader.environ(proc.pid))
        if hit:
            found[proc.pid] = proc.start
    return found


def _alive(procs: Mapping[int, int], reader: ProcessReader) -> dict[int, int]:
    out = {}
    for pid, start in procs.items():
        proc = reader.read(pid)
        if proc is not None and proc.start == start and not proc.zombie:
            out[pid] = start
    return out


def _wait_gone(procs: Mapping[int, int], reader: ProcessReader, timeout: float) -> dict[int, int]:
    deadline = time.monotonic() + timeout
    left = _alive(procs, reader)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _alive(left, reader)
    return left


# --- the world ------------------------------------------------------------------------------------


class DemoWorld:
    """A throw-away world of simulated agents on a private tmux server.

    ``with DemoWorld() as world:`` builds it (``open()``) and tears it down on exit (``close()``).
    The tmux server is started empty (``-f /dev/null``, hermetic environment); the agents are
    spawned by whoever runs a supervisor on ``world.config``. With ``keep=True``, ``close()``
    leaves everything running and returns a text saying where it is and how to clean up.
    """

    def __init__(self, agents: int = DEFAULT_AGENTS, *, keep: bool = False, faults: bool = True,
                 chat_every_s: tuple[float, float] | None = None,
                 supervisor: Mapping[str, Any] | None = None, base_dir: str | os.PathLike[str] | None = None,
                 tmux_bin: str = "tmux", hosts: Sequence[Mapping[str, Any]] = ()) -> None:
        self.agents = demo_agents(agents, faults=faults, chat_every_s=chat_every_s)
        self.keep = keep
        self.faults = faults
        self.base_dir = base_dir
        self.tmux_bin = tmux_bin
        self.hosts = [dict(h) for h in hosts]  # SPEC §9: [[hosts]] of the config (cockpit demo --hosts N)
        sup = dict(DEMO_SUPERVISOR)
        sup["max_actions_per_minute"] = max(int(sup["max_actions_per_minute"]), 4 * len(self.agents))
        sup.update(supervisor or {})
        self.supervisor_settings = sup
        self.socket = SOCKET_PREFIX + secrets.token_hex(4)
        self.root: Path | None = None
        self.socket_path: Path | None = None
        self.server_pid: int | None = None
        self.server_start: int | None = None
        self.ports: dict[str, int] = {}
        self.stale_session: str | None = None
        self.wrapper_marker = f"demo-zombie-{self.socket.removeprefix(SOCKET_PREFIX)}"  # the [[wrappers]] rule
        self.config: Config | None = None
        self._opened = False
        self._torn_down = False

    # paths of the world (valid once open)
    @property
    def config_path(self) -> Path:
        return self._root / "cockpit.toml"

    @property
    def home(self) -> Path:
        return self._root / "home"

    @property
    def claude_dir(self) -> Path:
        return self._root / "claude"

    @property
    def codex_dir(self) -> Path:
        return self._root / "codex"

    @property
    def state_dir(self) -> Path:
        return self._root / "state"

    @property
    def work_dir(self) -> Path:
        return self._root / "work"

    @property
    def routes_file(self) -> Path:
        return self._root / "gateway" / "routes.json"

    @property
    def gateway_log(self) -> Path:
        return self._root / "gateway" / "gateway.log"

    @property
    def alerts_file(self) -> Path:
        return self._root / "alerts.jsonl"

    @property
    def wrappers_dir(self) -> Path:
        return self._root / "wrappers"

    @property
    def notices_file(self) -> Path:
        return self._root / "notices.jsonl"

    @property
    def cli_link(self) -> Path:
        """The agents' CLI (``command[0]``): a symlink into ``cli/versions/``, what doctor promotes."""
        return self._root / "cli" / "bin" / "claude"

    @property
    def cli_versions(self) -> Path:
        return self._root / "cli" / "versions"

    @property
    def report_file(self) -> Path:
        return self._root / "reports" / "nightly.md"

    @property
    def _root(self) -> Path:
        if self.root is None:
            raise RuntimeError("the demo world is not built yet (call open() or use it as a context manager)")
        return self.root

    def agent_env(self) -> dict[str, str]:
        """The environment every agent gets on top of the tmux server's: the world, not the operator's."""
        return {"HOME": str(self.home), "CLAUDE_CONFIG_DIR": str(self.claude_dir),
                "CODEX_HOME": str(self.codex_dir), "DISABLE_AUTOUPDATER": "1", MARKER_ENV: str(self._root)}

    def server_env(self) -> dict[str, str]:
        """The tmux server's environment (its panes inherit it): the operator's PATH and locale,
        the world's home and config dirs, no $TMUX of an enclosing session."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("TMUX", "TMUX_PANE") and not k.startswith("XDG_") and k != "COCKPIT_CONFIG"}
        env.update(self.agent_env())
        env["XDG_CONFIG_HOME"] = str(self.home / ".config")
        env["XDG_STATE_HOME"] = str(self.home / ".local" / "state")
        env["XDG_CACHE_HOME"] = str(self.home / ".cache")
        env["COCKPIT_CONFIG"] = str(self.config_path)  # `cockpit check` in a demo window just works
        return env

    # --- building ---------------------------------------------------------------------------

    def __enter__(self) -> DemoWorld:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> DemoWorld:
        if self._opened:
            return self
        if shutil.which(self.tmux_bin) is None:
            raise DemoError(f"{self.tmux_bin} not found on PATH: the demo runs its agents in tmux")
        try:
            # the dir is named after the socket: `ls /tmp/cockpit-demo-*` pairs them
            self.root = Path(tempfile.mkdtemp(prefix=f"{self.socket}-", dir=self.base_dir))
        except OSError as exc:
            raise DemoError(f"cannot create the demo's temp dir: {exc.strerror or exc}") from None
        self._opened = True
        try:
            self._build()
            self._start_tmux()
            if self.faults:
                self._start_background()
                if any(a.name == ADOPTED for a in self.agents):
                    self._start_outside(ADOPTED)
        except BaseException:
            self.close(keep=False)
            raise
        return self

    def _build(self) -> None:
        root = self._root
        for d in (self.home, self.claude_dir, self.codex_dir, self.work_dir, self.routes_file.parent,
                  self.wrappers_dir):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        ensure_private_dir(self.state_dir)
        for agent in self.agents:
            (self.work_dir / agent.cwd).mkdir(exist_ok=True)
            if agent.port:
                self.ports[agent.name] = self._unused_port()
        routes: dict[str, str] = {}
        if self.faults and any(a.name == "scribe" for a in self.agents):
            # seed #3: the gateway's record points scribe at yesterday's session; disk says otherwise.
            self.stale_session = self._seed_old_session(self.work_dir / "shop")
            routes["scribe"] = self.stale_session
        atomic_write_json(self.routes_file, routes)
        self._seed_gateway_log()
        self._install_cli()
        if self.faults:
            self._seed_report()
        data = self.config_data()
        atomic_write(self.config_path, to_toml(data, header=self._config_header()))
        try:
            self.config = parse_config(data, path=self.config_path, env=os.environ)
        except Exception as exc:  # a path with "$" in it, say: the config must be loadable as written
            raise DemoError(f"the demo's config does not load: {exc}") from None
        if self.faults:
            self._schedule_reminders()
        atomic_write(root / "README.txt", self.describe(kept=False) + "\n")

    def _unused_port(self) -> int:
        used = set(self.ports.values())
        for _ in range(50):
            port = _free_port()
            if port not in used:
                return port
        raise DemoError("no free TCP port on 127.0.0.1")

    def _seed_old_session(self, cwd: Path) -> str:
        """An old transcript (yesterday) in cwd's project folder, as a resumed-then-abandoned session leaves."""
        session_id = str(uuid.uuid4())
        path = transcript_path(self.claude_dir, str(cwd), session_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        at = datetime.now(timezone.utc) - timedelta(days=1)
        common = {"userType": "external", "entrypoint": "cli", "cwd": str(cwd), "sessionId": session_id,
                  "version": "2.1.197-sim", "gitBranch": "HEAD", "isSidechain": False}
        first = str(uuid.uuid4())
        rows = [
            {"parentUuid": None, "type": "user", "uuid": first, "timestamp": _iso(at),
             "message": {"role": "user", "content": "summarise yesterday's changes"}, **common},
            {"parentUuid": first, "type": "assistant", "uuid": str(uuid.uuid4()),
             "timestamp": _iso(at + timedelta(seconds=2)),
             "message": {"id": f"msg_sim_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
                         "model": "claude-sim", "content": [{"type": "text", "text": "(sim) done yesterday"}],
                         "stop_reason": "end_turn", "stop_sequence": None,
                         "usage": {"input_tokens": 5, "output_tokens": 5}}, **common},
        ]
        atomic_write(path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
        return session_id

    def _install_cli(self) -> None:
        """seed #1: ``cli/bin/claude`` -> ``cli/versions/CURRENT`` (what every agent runs), and two
        candidates next to it for ``cockpit doctor``: a good one and one that crashes with the
        production flags. Each is a script run by this Python (``#!`` line), the simulator inside."""
        self.cli_versions.mkdir(parents=True, exist_ok=True)
        self.cli_link.parent.mkdir(parents=True, exist_ok=True)
        for version in (CLI_CURRENT, CLI_GOOD, CLI_BROKEN):
            code = _CLI_BROKEN_CODE if version == CLI_BROKEN else _CLI_GOOD_CODE
            body = code.format(version=f"{version}-sim", arg=CLI_BROKEN_ARG)
            path = self.cli_versions / version
            atomic_write(path, _script_head(f"Claude Code {version}, simulated by cockpit demo") + body)
            path.chmod(0o755)
        os.symlink(os.path.join("..", "versions", CLI_CURRENT), self.cli_link)

    def _seed_report(self) -> None:
        """seed #5: the nightly report a canary watches; its last write was two days ago."""
        self.report_file.parent.mkdir(mode=0o700, exist_ok=True)
        atomic_write(self.report_file, "# nightly report\n\n(the job that writes this stopped two days ago)\n")
        old = time.time() - REPORT_AGE_S
        os.utime(self.report_file, (old, old))

    def _schedule_reminders(self) -> None:
        """seed #6: a notice (humans only), a wake tabs picks up, a wake api ignores."""
        assert self.config is not None
        from cockpit.reminders import ReminderQueue

        names = {a.name for a in self.agents}
        now = time.time()
        queue = ReminderQueue.for_config(self.config)
        if "tabs" in names:
            queue.add("tabs", "notice", "stand-up in 10 minutes: the fleet's status is on the cockpit",
                      now + NOTICE_AFTER_S, by="demo", now=now)
            queue.add("tabs", "wake", "post your status to #ops (a reminder from cockpit)",
                      now + WAKE_AFTER_S, by="demo", now=now)
        if "api" in names:
            queue.add("api", "wake", "the nightly report is two days old: regenerate it",
                      now + MISSED_WAKE_AFTER_S, by="demo", now=now)

    def _seed_gateway_log(self) -> None:
        now = datetime.now(timezone.utc)
        lines = []
        if self.faults:
            lines = [
                f"{_iso(now - timedelta(minutes=3))} [gateway] routing {len(self.agents)} agents",
                f"{_iso(now - timedelta(minutes=2))} [event-loop-block] tick took 1855ms - routes.reload",
                f"{_iso(now - timedelta(minutes=1))} [gateway] delivered 12 messages",
            ]
        atomic_write(self.gateway_log, "".join(line + "\n" for line in lines))

    def config_data(self) -> dict[str, Any]:
        """The demo's config as a dict (what ``cockpit.toml`` holds)."""
        agents = []
        for agent in self.agents:
            command = [str(self.cli_link), *(f.replace("{port}", str(self.ports.get(agent.name, 0)))
                                             for f in agent.flags)]
            table: dict[str, Any] = {"name": agent.name, "kind": agent.kind, "cwd": str(self.work_dir / agent.cwd),
                                     "command": command, "env": self.agent_env()}
            if agent.name in self.ports:
                table["port"] = self.ports[agent.name]
            agents.append(table)
        alert = [sys.executable, "-c", _APPEND_STDIN, str(self.alerts_file)]
        data: dict[str, Any] = {
            "tmux": {"socket": self.socket, "session": SESSION},
            "state": {"dir": str(self.state_dir)},
            "supervisor": {**self.supervisor_settings, "alert_command": alert,
                           "notice_command": [sys.executable, "-c", _APPEND_STDIN, str(self.notices_file)]},
            "claude": {"config_dir": str(self.claude_dir)},
            "codex": {"home": str(self.codex_dir)},
            "routes": {"file": str(self.routes_file)},
            "agents": agents,
        }
        if self.hosts:
            data["hosts"] = self.hosts
        if self.faults:
            # seed #9: the demo's lingering sub-agents carry this marker in their argv; nothing else matches
            data["wrappers"] = [{"match": f"--name {self.wrapper_marker}-"}]
            data["logs"] = [{"name": "gateway", "path": str(self.gateway_log)}]
            # seed #5: user-level canaries; the CLI answers, the nightly report is two days old
            data["canaries"] = [
                {"name": "cli-version", "every_s": 15.0, "command": [str(self.cli_link), "--version"],
                 "expect": r"^2\.1\.\d+", "timeout_s": 5.0},
                {"name": "nightly-report", "every_s": 15.0, "expect_file": str(self.report_file),
                 "max_age_s": 86400.0},
            ]
            # seed #1: boot a candidate with the production flags before promoting it
            data["doctor"] = {"args": list(DOCTOR_ARGS), "boot_s": 8.0, "ready_pattern": r"\? for shortcuts"}
        return data

    def _config_header(self) -> str:
        return (f"cockpit demo world (throw-away): {self._root}\n"
                f"Written by `cockpit demo`; quitting the demo removes this directory.\n"
                f"Check it by hand: cockpit check --config {shlex.quote(str(self.config_path))}\n"
                f"Agents:\n" + "".join(f"  {a.name:<8} {a.shows}\n" for a in self.agents))

    def _start_background(self) -> None:
        """The gateway and the sub-agent wrappers: windows of the world's tmux server, in their own
        session (``world``, never the agents'), so kill-server ends them as it ends the agents."""
        names = {a.name for a in self.agents}
        gateway_agent = "scribe" if self.stale_session and "scribe" in names else ""
        self._window("gateway", [sys.executable, "-c", _GATEWAY_CODE, str(self.gateway_log), str(self.routes_file),
                                 gateway_agent, self.stale_session or "", str(self._root), GATEWAY_BLOCK_LINE,
                                 str(GATEWAY_BLOCK_EVERY_S), str(GATEWAY_FIRST_BLOCK_S), str(GATEWAY_REVERT_AFTER_S)])
        cwd = self.work_dir / "wrappers"  # their transcripts land in a project folder no agent reads
        cwd.mkdir(exist_ok=True)
        sims = (("1", "summarise the failing tests", ()),
                ("2", "apply the review fixups", ("--result-subtype", "error_max_turns", "--result-is-error")))
        for n, prompt, extra in sims:
            # stdout to a file under the world: the stream-json output the wrapper tracker follows
            out = self.wrappers_dir / f"zombie-{n}.jsonl"
            self._window(f"zombie-{n}", [sys.executable, "-c", _EXEC_TO_FILE, str(out),
                                         *SIM, "-p", prompt, "--output-format", "stream-json", "--reply-delay-s", "0",
                                         "--linger-s", str(WRAPPER_LINGER_S), "--name", f"{self.wrapper_marker}-{n}",
                                         *extra], cwd=cwd)
        if "ghost" in names:
            self._start_orphan(cwd)

    def _start_outside(self, name: str) -> None:
        """SPEC §11: an agent the operator started by hand, in a plain window of their own session
        (``desk``), then adopted with ``cockpit adopt`` before any supervisor runs: same pid, no restart."""
        assert self.config is not None
        agent = self.config.agent(name)
        argv = [*agent.command, "--session-id", str(uuid.uuid4())]
        env_args = [arg for key, value in agent.env.items() for arg in ("-e", f"{key}={value}")]
        done = self._tmux("new-session", "-d", "-s", OUTSIDE_SESSION, "-x", "120", "-y", "30", "-n", name,
                          "-c", str(agent.cwd), *env_args, "-P", "-F", "#{pane_id} #{pane_pid}", *argv,
                          env=self.server_env())
        pane, _, pid = done.stdout.strip().partition(" ")
        if done.returncode != 0 or not pid.isdigit():
            raise DemoError(f"cannot start the demo's {name} outside cockpit: {(done.stderr or done.stdout).strip()}")
        live = self.claude_dir / "sessions" / f"{pid}.json"
        deadline = time.monotonic() + 15.0
        while not live.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        adopt = subprocess.run([sys.executable, "-m", "cockpit", "adopt", name, pane, "--config", str(self.config_path)],
                               capture_output=True, text=True, timeout=60, env=self.server_env(),
                               stdin=subprocess.DEVNULL)
        if adopt.returncode != 0:
            raise DemoError(f"the demo could not adopt {name}: {(adopt.stdout + adopt.stderr).strip()}")

    def _start_orphan(self, cwd: Path) -> None:
        """A sub-agent started for ghost and registered as ghost's, the way ``cockpit wrap --agent ghost``
        registers its runs (a registry ``spawned`` row, ``wrapper: true``): ghost is gone (fatal), so
        it is an orphan at once. It is still thinking (no result line): only a reap ends it."""
        name = "ghost-notes"
        out = self.wrappers_dir / f"{name}.jsonl"
        argv = [*SIM, "-p", "file today's notes", "--output-format", "stream-json",
                "--reply-delay-s", str(ORPHAN_REPLY_DELAY_S)]
        pid = self._window(name, [sys.executable, "-c", _EXEC_TO_FILE, str(out), *argv], cwd=cwd)
        proc = ProcessReader().read(pid) if pid else None
        if proc is None or self.config is None:
            raise DemoError(f"the demo's {name} did not start")
        Registry(self.config.state.registry).event(
            "spawned", agent=name, spawn_id=new_spawn_id(), wrapper=True, pid=proc.pid, start=proc.start,
            pgid=proc.pgid, output=str(out), parent_agent="ghost", argv=argv, cwd=str(cwd), by="demo")

    def _window(self, name: str, argv: list[str], *, cwd: Path | None = None) -> int | None:
        """One window of the ``world`` session running ``argv`` (an argv: tmux execs it, no shell); its pid."""
        exists = self._tmux("has-session", "-t", f"={WORLD_SESSION}", env=self.server_env()).returncode == 0
        where = ["new-window", "-d", "-t", f"={WORLD_SESSION}:"] if exists else \
            ["new-session", "-d", "-s", WORLD_SESSION, "-x", "100", "-y", "30"]
        done = self._tmux(*where, "-P", "-F", "#{pane_pid}", "-n", name, "-c", str(cwd or self._root), *argv,
                          env=self.server_env())
        if done.returncode != 0:
            raise DemoError(f"cannot start the demo's {name}: {(done.stderr or done.stdout).strip()}")
        pid = done.stdout.strip()
        return int(pid) if pid.isdigit() else None

    def _tmux(self, *args: str, timeout: float = 10.0, env: Mapping[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.tmux_bin, "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=timeout, env=dict(env) if env is not None else None,
                              stdin=subprocess.DEVNULL)

    def _start_tmux(self) -> None:
        """Start the world's tmux server, empty and hermetic: no user tmux.conf, the world's HOME
        and CLAUDE_CONFIG_DIR in its environment (its panes inherit them)."""
        done = subprocess.run(
            [self.tmux_bin, "-L", self.socket, "-f", "/dev/null", "start-server", ";",
             "set-option", "-g", "exit-empty", "off", ";",
             "display-message", "-p", "#{pid}\t#{socket_path}"],
            capture_output=True, text=True, timeout=10, env=self.server_env(), stdin=subprocess.DEVNULL,
            cwd=str(self.home))
        if done.returncode != 0:
            raise DemoError(f"cannot start tmux -L {self.socket}: {(done.stderr or done.stdout).strip()}")
        pid, _, path = done.stdout.strip().partition("\t")
        try:
            self.server_pid = int(pid)
        except ValueError:
            self.server_pid = None
        proc = ProcessReader().read(self.server_pid) if self.server_pid else None
        self.server_start = proc.start if proc is not None else None
        self.socket_path = Path(path) if path else None

    # --- reading it ------------------------------------------------------------------------------

    def server_running(self) -> bool:
        try:
            return self._tmux("list-sessions", timeout=5).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def processes(self) -> dict[int, int]:
        """The world's live processes ``{pid: start}`` (the tmux server, the agents, their children)."""
        reader = ProcessReader()
        found = world_processes(self._root, self.socket, exclude=_ancestors(os.getpid(), reader), reader=reader)
        server = reader.read(self.server_pid) if self.server_pid else None
        if server is not None and server.start == self.server_start:  # not a successor of a killed server
            for proc in reader.tree([server.pid]):
                if not proc.zombie:
                    found.setdefault(proc.pid, proc.start)
        return found

    def describe(self, *, kept: bool = True) -> str:
        root = shlex.quote(str(self._root))
        sock = self.socket
        lines = [
            f"cockpit demo world {'kept ' if kept else ''}at {self._root}",
            f"  tmux socket: {sock}   attach: tmux -L {sock} attach -t {SESSION}",
            f"  config:      {self.config_path}",
            f"               cockpit --config {shlex.quote(str(self.config_path))}   "
            f"(or: cockpit check --config ...)",
            # a second for the killed processes to write their last lines, or rm races them
            f"  clean up:    tmux -L {sock} kill-server; sleep 1; rm -rf {root}",
        ]
        return "\n".join(lines)

    # --- tearing down ------------------------------------------------------------------------------

    def close(self, *, keep: bool | None = None) -> str | None:
        """Tear the world down, or, when kept (``keep``, default ``self.keep``), leave it running
        and return a text saying where it is and how to clean up.

        Kill the tmux server, then end every process still carrying the world's marker: SIGTERM,
        SIGKILL after ``TERM_WAIT_S``, each signalled only if its pid and start time still match
        (SPEC §6). Then remove the stale socket and the directory. Safe to call again.
        """
        if self._torn_down or not self._opened or self.root is None:
            return None
        if self.keep if keep is None else keep:
            return self.describe(kept=True)
        self._torn_down = True
        destroy_world(self._root, self.socket, known=self.processes(), socket_path=self.socket_path,
                      tmux_bin=self.tmux_bin)
        return None


def destroy_world(root: Path, socket_name: str, *, known: Mapping[int, int] | None = None,
                  socket_path: Path | None = None, tmux_bin: str = "tmux") -> None:
    """Tear a demo world down, from its directory and socket name alone (a kept world too).

    ``known``: processes ``{pid: start}`` seen as the world's while its server ran (its pane
    trees: once the server is gone they are reparented and only their marker finds them).
    """
    root = Path(root)
    reader = ProcessReader()
    me = _ancestors(os.getpid(), reader)
    before = dict(known or {})
    before.update(world_processes(root, socket_name, exclude=me, reader=reader))
    kill_server_sync(("-L", socket_name), tmux_bin=tmux_bin, socket=socket_path)  # its socket file goes too
    # The panes' processes get SIGHUP from the closing ptys: give them a moment to exit cleanly.
    left = _wait_gone(before, reader, TEARDOWN_GRACE_S)
    left.update(world_processes(root, socket_name, exclude=me, reader=reader))
    procs = [p for pid, start in _alive(left, reader).items()
             if (p := reader.read(pid)) is not None and p.start == start]
    if procs:  # SPEC §6: only the processes recorded, each by pid + start
        stop_verified_sync(procs, wait_s=TERM_WAIT_S, kill_wait_s=1.0, reader=reader)
    for attempt in range(10):  # a dying agent may still write its last transcript line
        shutil.rmtree(root, ignore_errors=True)
        if not root.exists():
            break
        time.sleep(0.05 * (attempt + 1))


# --- running it -----------------------------------------------------------------------------------


class _AppHolder:
    app: Any = None


def _tui_runner(holder: _AppHolder) -> Callable[[Config], int]:
    def run(config: Config) -> int:
        try:
            from cockpit.tui.app import TuiSettings, create_app
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("cockpit.tui"):
                raise DemoError("the TUI (cockpit.tui.app) is not available in this installation") from None
            raise
        app = create_app(TuiSettings(config=config, read_only=False, demo=True))
        holder.app = app
        try:
            app.run()
        finally:
            holder.app = None
        code = getattr(app, "return_code", 0)
        return code if isinstance(code, int) else 0
    return run


def _ask_to_quit(app: Any, code: int) -> None:
    """On the app's loop: run its "quit" action (what `q` does) inside the app's own message
    processing, where Textual expects actions to run; a Textual app without one just exits."""
    try:
        app.call_later(app.run_action, "quit")
    except Exception:
        app.exit(return_code=code)


def _say(out: TextIO, text: str) -> None:
    try:
        print(text, file=out, flush=True)
    except (OSError, ValueError):  # SIGHUP: the terminal is gone
        pass


class _Signals:
    """SIGTERM/SIGHUP during the demo: the app is asked to quit its own way; if unwinding has not
    finished within a few seconds, the same signal again stops it hard (the teardown still runs)."""

    HANDLED = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self, holder: _AppHolder) -> None:
        self.holder = holder
        self.count = 0
        self.signum: int | None = None
        self.timers: list[threading.Timer] = []
        self.previous: dict[int, Any] = {}

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1
        self.signum = signum
        app = self.holder.app
        if self.count == 1:
            # A task that never completes its cancellation keeps asyncio.run waiting: escalate.
            timer = threading.Timer(SIGNAL_ESCALATE_S, os.kill, (os.getpid(), signum))
            timer.daemon = True
            timer.start()
            self.timers.append(timer)
        if self.count == 1 and app is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                # Let the app quit its own way (its "quit" action closes the supervisor and restores
                # the terminal, as `q` does).
                loop.call_soon_threadsafe(_ask_to_quit, app, 128 + signum)
                return
        raise DemoInterrupted(signum)

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in self.HANDLED:
                self.previous[sig] = signal.signal(sig, self)

    def hold(self) -> None:
        """The teardown must finish: a second signal must not cut it short."""
        for timer in self.timers:
            timer.cancel()
        for sig in (*self.HANDLED, signal.SIGINT):
            if threading.current_thread() is threading.main_thread():
                self.previous.setdefault(sig, signal.getsignal(sig))
                signal.signal(sig, signal.SIG_IGN)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def run_demo(agents: int = DEFAULT_AGENTS, keep: bool = False,
             app_runner: Callable[[Config], Any] | None = None, *, out: TextIO | None = None,
             more_hosts: Callable[[], Any] | None = None) -> int:
    """``cockpit demo [--agents N] [--keep]``: build the world, run the app on it, tear it down.

    ``app_runner(config)`` runs the UI and returns when the operator quits (default: the Textual
    app, ``create_app(TuiSettings(config=..., demo=True)).run()``); an int it returns is the exit
    code. The world is torn down in a ``finally``: after a normal quit, an exception, Ctrl-C, and
    SIGTERM/SIGHUP (the app is asked to quit; if it has not within a few seconds it is stopped).
    ``more_hosts()`` builds the extra "hosts" of ``--hosts N`` (``cockpit.demo_hosts.DemoHosts``: it
    opens, describes itself, lists its ``[[hosts]]`` entries and closes), torn down with the world.
    Returns the exit code: the app's, 2 when the world cannot be built, 128+N after signal N.
    """
    out = out if out is not None else sys.stdout
    holder = _AppHolder()
    runner = app_runner or _tui_runner(holder)
    signals = _Signals(holder)
    signals.install()
    world: DemoWorld | None = None
    extra: Any = None
    opened = False
    code = 0
    try:
        try:
            if more_hosts is not None:  # SPEC §9: more "hosts" on this machine, through the serve --stdio transport
                extra = more_hosts().open()
                _say(out, f"cockpit demo: {len(extra.entries())} more hosts\n{extra.describe()}")
            world = DemoWorld(agents=agents, keep=keep, hosts=extra.entries() if extra is not None else ())
            world.open()
            opened = True
            _say(out, f"cockpit demo: {len(world.agents)} simulated agents on tmux -L {world.socket}, "
                      f"world {world.root}")
            assert world.config is not None
            result = runner(world.config)
            code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        except DemoError as exc:
            _say(sys.stderr, f"cockpit demo: {exc}")
            code = 2
        except DemoInterrupted as exc:
            code = 128 + exc.signum
        except KeyboardInterrupt:
            code = 130
        if signals.signum is not None:
            code = 128 + signals.signum
    finally:
        signals.hold()
        text = None
        try:
            if world is not None:
                text = world.close()
        finally:
            for kept in extra.close() if extra is not None else ():
                _say(out, kept)
            signals.restore()
        if world is not None and opened:
            if text:
                _say(out, text)
            else:
                _say(out, f"cockpit demo: world torn down (tmux -L {world.socket} killed, {world.root} removed)")
    return code


# --- the loop-lag probe -----------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100.0 * len(ordered)) - 1))
    return ordered[index]


def _lag_stats(samples: list[float]) -> dict[str, float]:
    return {"max_ms": round(max(samples, default=0.0), 2),
            "median_ms": round(statistics.median(samples) if samples else 0.0, 2),
            "p99_ms": round(_percentile(samples, 99), 2), "samples": len(samples)}


def _spawned_agents(world: DemoWorld) -> int:
    """How many agents have a verified spawn (registry rows ``spawned``) — from disk, not the app."""
    path = world.config.state.registry if world.config else None
    if path is None or not path.exists():
        return 0
    rows = Registry(path).read_all().rows
    return len({r.get("agent") for r in rows if r.get("event") == "spawned" and r.get("wrapper") is not True})


def tui_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("cockpit.tui.app") is not None
    except (ImportError, ValueError):
        return False


def lag_probe(agents: int = 200, seconds: float = 20, *, tui: bool | None = None, tick_s: float = 1.0,
              interval_s: float = 0.010, spawn_timeout_s: float | None = None,
              progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """The UI loop's lag with ``agents`` light simulated agents (healthy, chatting every 20–40 s).

    Builds a DemoWorld, runs the real app headless (``create_app(...).run_test()``) when
    ``cockpit.tui.app`` is importable (``tui=None``: auto), else the supervisor alone, in one
    asyncio loop with a ``interval_s`` timer measuring how late it fires. Phase ``spawn`` lasts
    until every agent has a verified spawn; phase ``steady`` lasts ``seconds`` more, while the
    table updates. Returns the steady phase's max/median/p99 lag in ms (top level) and both phases.
    A script, not a timed test: the numbers depend on the host.
    """
    use_tui = tui_available() if tui is None else tui
    say = progress or (lambda text: None)
    sup = {"tick_s": tick_s, "spawn_verify_s": 30.0, "min_uptime_s": 1.0,
           "max_actions_per_minute": max(1000, agents * 10), "restart_window_s": 300.0, "backoff_max_s": 5.0}
    timeout = spawn_timeout_s if spawn_timeout_s is not None else max(60.0, agents * 1.0)
    with DemoWorld(agents=agents, faults=False, chat_every_s=(20.0, 40.0), supervisor=sup) as world:
        say(f"lag probe: {agents} agents on tmux -L {world.socket} ({'TUI' if use_tui else 'supervisor only'})")
        result = asyncio.run(_probe(world, seconds, use_tui, interval_s, timeout, say))
    result.update({"agents": agents, "seconds": seconds, "tick_s": tick_s, "interval_ms": interval_s * 1000})
    return result


async def _probe(world: DemoWorld, seconds: float, use_tui: bool, interval_s: float, spawn_timeout_s: float,
                 say: Callable[[str], Any]) -> dict[str, Any]:
    assert world.config is not None
    loop = asyncio.get_running_loop()
    phases: dict[str, list[float]] = {"spawn": [], "steady": []}
    phase = ["spawn"]
    stop = asyncio.Event()

    async def measure() -> None:
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(interval_s)
            now = loop.time()
            phases[phase[0]].append(max(0.0, now - last - interval_s) * 1000.0)
            last = now

    tick_ms: list[float] = []
    blocks: list[tuple[str, Any]] = []  # (phase, Block): who held the loop, sampled by a sentinel thread
    watch = None
    try:
        from cockpit.observe.loopwatch import LoopWatch

        watch = LoopWatch(loop_block_ms=50, on_block=lambda block: blocks.append((phase[0], block)))
        watch.start(loop)
    except Exception:  # the probe's own numbers do not depend on it
        watch = None
    lagger = asyncio.create_task(measure(), name="lag-probe")
    started = time.monotonic()
    result: dict[str, Any] = {"mode": "tui" if use_tui else "supervisor"}

    async def wait_spawned() -> None:
        n = len(world.agents)
        deadline = time.monotonic() + spawn_timeout_s
        last_said = 0
        while time.monotonic() < deadline:
            count = await asyncio.to_thread(_spawned_agents, world)
            if count >= n:
                break
            if count - last_said >= max(1, n // 10):
                say(f"  {count}/{n} agents verified after {time.monotonic() - started:.1f}s")
                last_said = count
            await asyncio.sleep(0.5)
        result["spawned"] = await asyncio.to_thread(_spawned_agents, world)
        result["spawn_s"] = round(time.monotonic() - started, 2)
        say(f"  {result['spawned']}/{n} agents verified after {result['spawn_s']}s; measuring {seconds}s")
        phase[0] = "steady"
        await asyncio.sleep(seconds)

    try:
        await _run_probed(world, use_tui, wait_spawned, tick_ms)
    finally:
        stop.set()
        await lagger
        if watch is not None:
            watch.stop()
    return _probe_summary(result, phases, blocks, tick_ms)


async def _run_probed(world: DemoWorld, use_tui: bool, wait_spawned: Callable[[], Awaitable[None]],
                      tick_ms: list[float]) -> None:
    """The measured thing: the whole TUI (in a headless pilot) or the supervisor alone, until measured."""
    assert world.config is not None
    if use_tui:
        from cockpit.tui.app import TuiSettings, create_app

        app = create_app(TuiSettings(config=world.config, read_only=False, demo=True))
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_spawned()
            await pilot.pause()
        return
    from cockpit.supervisor import Supervisor

    supervisor = Supervisor(world.config, actor="lag-probe")
    sup_stop = asyncio.Event()
    ticking = asyncio.create_task(
        supervisor.run(sup_stop, on_report=lambda report: tick_ms.append(report.cost.wall_ms)))
    try:
        await wait_spawned()
    finally:
        sup_stop.set()
        await ticking
        await supervisor.close()


def _probe_summary(result: dict[str, Any], phases: dict[str, list[float]], blocks: list[tuple[str, Any]],
                   tick_ms: list[float]) -> dict[str, Any]:
    result.update(_lag_stats(phases["steady"]))
    # who held the loop in the worst stalls (innermost frames last): where to look first
    worst = sorted(blocks, key=lambda item: -float(item[1].duration_ms))[:5]
    result["worst_blocks"] = [{"phase": ph, "ms": round(float(b.duration_ms), 1), "culprit": b.culprit,
                               "stack": list(b.stack)[-4:]} for ph, b in worst]
    result["spawn_phase"] = _lag_stats(phases["spawn"])
    if tick_ms:
        result["tick_ms"] = {"median": round(statistics.median(tick_ms), 2), "max": round(max(tick_ms), 2),
                             "ticks": len(tick_ms)}
    return result


if __name__ == "__main__":  # pragma: no cover - the lead exposes both as CLI commands
    if sys.argv[1:2] == ["lag"]:
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
        secs = float(sys.argv[3]) if len(sys.argv) > 3 else 20
        print(json.dumps(lag_probe(n, secs, progress=lambda t: print(t, file=sys.stderr, flush=True)), indent=2))
    else:
        raise SystemExit(run_demo(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_AGENTS))

"""Helpers to run the REAL Claude Code CLI (npm ``@anthropic-ai/claude-code``, pinned 2.1.332) offline.

The previous pin, 2.1.197, is installed by CI too (``.ci/claude-prev``) and the hook tests run it:
what differs in 2.1.332 is asserted version-agnostically (the prompt's footer is ``⏵⏵ auto mode on
(shift+tab to cycle)`` as auto mode is the default permission mode; ``--session-id`` with
``--resume`` says ``--session-id with --continue or --resume also needs --fork-session``). Both
fire the hooks of a ``--settings`` file (SessionStart, UserPromptSubmit, Stop, SessionEnd, and
SessionStart ``source: clear`` with a new id after ``/clear``); ``disableAllHooks`` in the user's
settings turns them off. The notes below were taken on 2.1.197.

Install it with ``bash .ci/install-claude.sh`` (into ``.ci/claude``, git-ignored) or point
``COCKPIT_CLAUDE_BIN`` at a binary. Always run it with a temp ``HOME`` and ``CLAUDE_CONFIG_DIR``
(:func:`claude_env`) and against :class:`tests.messages_stub.MessagesStub`. Also here: a private
tmux server (:class:`PrivateTmux`, used by tests/test_sim.py too), :func:`wait_for`, JSON readers.

Quirks of 2.1.197 seen on this machine (asserted in tests/test_real_claude_boot.py):

Install / process
- The npm package ships a native ELF binary (~235 MB with its platform package):
  ``node_modules/.bin/claude`` -> ``@anthropic-ai/claude-code/bin/claude.exe``. The running
  process's comm is ``claude``; argv[0] is the path you ran. ``--version`` prints
  ``2.1.197 (Claude Code)``.
- First run writes ``$CLAUDE_CONFIG_DIR/.claude.json`` (``firstStartTime``, ``userID``,
  ``machineID``, migration flags), ``backups/``, ``plugins/`` and a ``settings.json`` holding
  ``{"env": {"DISABLE_AUTOUPDATER": "1"}}``. With CLAUDE_CONFIG_DIR set, ``.claude.json`` lives
  INSIDE the config dir, not in ``$HOME``. Transcripts are written 0600.

Print mode (``-p``) against the stub
- Exits 0 in ~0.7 s. stdout is stream-json: ``system/init`` (``session_id``, ``cwd``, ``model``,
  ``claude_code_version``...), one ``assistant`` line, the ``result`` line (``subtype:"success"``,
  ``is_error:false``, ``num_turns:1``, ``result`` = the stub's text, ``total_cost_usd`` > 0 as it
  prices the default model).
- HTTP: ``HEAD /`` (a reachability probe), then ``POST /v1/messages?beta=true`` (note the query
  string) with ``"stream": true``. Interactive turns ALSO send a side request with a
  ``claude-haiku-*`` model to title the session; its messages hold the prompt too. A request's
  ``messages`` may contain an entry with ``role: "system"`` after the user message.
- Transcript: ``queue-operation`` enqueue/dequeue (timestamp, no uuid), ``user`` (``entrypoint:
  "sdk-cli"``, ``promptSource: "sdk"``), ``attachment`` lines, ``assistant``, then a
  ``last-prompt`` line WITHOUT timestamp. No ``system/turn_duration`` in -p mode.
  ``gitBranch`` is ``"HEAD"`` outside a git repository.
- It registers a live-session file too while it runs: ``kind: "interactive"`` (sic),
  ``entrypoint: "sdk-cli"``, NO ``status``; removed at exit.
- ``--session-id X`` when X's transcript exists: ``Error: Session ID X is already in use.``, exit 1.
  ``--session-id`` + ``--resume``: ``Error: --session-id can only be used with --continue or
  --resume if --fork-session is also specified.``, exit 1. ``--session-id notauuid``:
  ``Error: Invalid session ID. Must be a valid UUID.``, exit 1. ``--resume`` of an unknown id (or of
  an id whose transcript sits in ANOTHER project folder): stderr ``No conversation found with
  session ID: X``, exit 1 (-p stream-json also prints a ``result`` line with
  ``subtype:"error_during_execution"``, ``is_error:true``, ``errors:[that message]``).
  ``--resume X`` keeps X and appends to the same file.

Interactive, in a tmux pane (with :func:`seed_claude_config`)
- No first-run screen at all; boots to its prompt in ~0.7-1 s. The screen at the prompt::

       ▐▛███▜▌   Claude Code v2.1.197
      ▝▜█████▛▘  Opus 4.8 (1M context) · API Usage Billing
        ▘▘ ▝▝    /the/cwd
      ──────────────────────────────────────────────
      ❯
      ──────────────────────────────────────────────
        ? for shortcuts · ← for agents                      ● high · /effort

  (under tmux without ``focus-events on`` the footer later adds ``tmux focus-events off · add
  'set -g focus-events on' to ~/.tmux.conf ...``). Typing ``/`` opens a command menu; ``/exit`` +
  Enter still exits (status 0) and prints ``Resume this session with:`` / ``claude --resume ID``.
- ``sessions/<pid>.json`` appears at boot: ``{pid, sessionId, cwd, startedAt, procStart (string,
  = /proc field 22), version, peerProtocol: 1, kind: "interactive", entrypoint: "cli", name:
  "<basename>-<2 hex>", nameSource: "derived", status: "idle", updatedAt, statusUpdatedAt}``.
  NO ``tmux`` field in 2.1.197 (even with TMUX/TMUX_PANE set); written in place (not atomically).
- Status per turn: ``idle`` -> ``busy`` (from Enter until the reply is done; ~150 ms against an
  instant stub, so tests slow the stub with ``delay_s``) -> ``idle``. At a tool permission prompt:
  ``status: "waiting"`` + ``waitingFor: "permission prompt"`` (other values in the bundle:
  ``"worker request"``, ``"sandbox request"``, ``"dialog open"``, ``"input needed"``);
  ``waitingFor`` is dropped when it leaves waiting. The bundle also knows a ``"shell"`` status.
- The transcript is created at the FIRST prompt, not at boot: ``mode`` and ``permission-mode``
  lines (no timestamp), ``file-history-snapshot``, ``user`` (``promptSource: "typed"``,
  ``origin: {"kind": "human"}``), ``attachment`` x2, ``assistant``, ``system/turn_duration``
  (``durationMs``, ``messageCount``); ``last-prompt`` (no timestamp) appended at exit.
- The permission prompt on screen::

       Bash command
         touch created-by-tool
         Create a file
       Do you want to proceed?
       ❯ 1. Yes
         2. Yes, and always allow access to proj.dir_x/ from this project
         3. No
       Esc to cancel · Tab to amend · ctrl+e to explain

- SIGTERM: exits 143 after removing its live-session file and appending ``last-prompt``.

tmux 3.3a quirks (see :class:`PrivateTmux`): a dead pane may show an empty
``pane_dead_status`` until the server reaps it at its next SIGCHLD; a short-lived program's
output scrolls into the history when "Pane is dead" is written, so capture with ``-S -``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
PINNED_VERSION = "2.1.332"    # .ci/install-claude.sh installs it into .ci/claude
PREVIOUS_VERSION = "2.1.197"  # the pin before it; .ci/run installs it into .ci/claude-prev (tests that it still works)
DEFAULT_BIN = REPO / ".ci" / "claude" / "node_modules" / ".bin" / "claude"
PREVIOUS_BIN = REPO / ".ci" / "claude-prev" / "node_modules" / ".bin" / "claude"
TEST_API_KEY = "sk-ant-api03-cockpit-test-key-0123456789abcdefghijklmnopqrstuvwxyz-AAAAAA"

# What the interactive CLI's footer shows once it is ready for input (tmux capture-pane -p text):
# 2.1.197 "? for shortcuts"; 2.1.332 (auto mode by default) "⏵⏵ auto mode on (shift+tab to cycle)".
# The input line itself is "❯ " between two horizontal rules.
PROMPT_MARKERS = ("? for shortcuts", "shift+tab to cycle")
PROMPT_READY = r"\? for shortcuts|shift\+tab to cycle"  # the same, as one regex (doctor's ready_pattern)
BOOT_TIMEOUT_S = 60.0  # seen: ~0.7-1 s; generous for loaded CI machines


def claude_bin() -> Path | None:
    """The real CLI: ``$COCKPIT_CLAUDE_BIN`` if set, else ``<repo>/.ci/claude/node_modules/.bin/claude``.

    None when it is not there or not executable.
    """
    env = os.environ.get("COCKPIT_CLAUDE_BIN")
    # When the variable is set it is the only candidate: a typo must not silently test another binary.
    cand = Path(env).expanduser() if env else DEFAULT_BIN
    if cand.is_file() and os.access(cand, os.X_OK):
        return cand
    return None


def previous_bin() -> Path | None:
    """The previous pin (``$COCKPIT_CLAUDE_PREV_BIN``, else ``.ci/claude-prev``), when installed."""
    env = os.environ.get("COCKPIT_CLAUDE_PREV_BIN")
    cand = Path(env).expanduser() if env else PREVIOUS_BIN
    return cand if cand.is_file() and os.access(cand, os.X_OK) else None


def cli_version(binary: Path | None) -> str:
    """What ``binary --version`` says (``2.1.332 (Claude Code)`` -> ``2.1.332``), with a throwaway home."""
    if binary is None:
        return PINNED_VERSION
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": scratch,
               "CLAUDE_CONFIG_DIR": str(Path(scratch) / ".claude"), "DISABLE_AUTOUPDATER": "1",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        try:
            out = subprocess.run([str(binary), "--version"], env=env, capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            return PINNED_VERSION
    return out.split()[0] if out.split() else PINNED_VERSION


CLAUDE_VERSION = cli_version(claude_bin())  # the version of the CLI the tests run (the pin, or COCKPIT_CLAUDE_BIN's)


def seed_claude_config(config_dir: str | os.PathLike[str], cwd: str | os.PathLike[str], api_key: str = TEST_API_KEY,
                       *, extra_projects: list[str] | None = None) -> Path:
    """Write ``config_dir/.claude.json`` so the interactive CLI boots straight to its prompt.

    Skips: onboarding/theme picker (``hasCompletedOnboarding``, ``theme``), "Detected a custom API
    key, do you want to use it?" (``customApiKeyResponses.approved`` = the key's last 20 chars),
    the folder trust dialog (``projects[cwd].hasTrustDialogAccepted``) and a few one-time tips.
    Also writes ``config_dir/settings.json`` without anything that would phone home.
    """
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    project_entry = {
        "allowedTools": [],
        "hasTrustDialogAccepted": True,
        "hasCompletedProjectOnboarding": True,
        "projectOnboardingSeenCount": 1,
        "hasClaudeMdExternalIncludesApproved": False,
        "hasClaudeMdExternalIncludesWarningShown": True,
    }
    projects = {}
    for path in [str(cwd), *(extra_projects or [])]:
        projects[path] = dict(project_entry)
        real = os.path.realpath(path)
        projects.setdefault(real, dict(project_entry))
    data: dict[str, Any] = {
        "numStartups": 1,
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": CLAUDE_VERSION,
        "theme": "dark",
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        "bypassPermissionsModeAccepted": False,
        "hasSeenTasksHint": True,
        "autoUpdates": False,
        "projects": projects,
    }
    path = config_dir / ".claude.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def claude_env(home: str | os.PathLike[str], config_dir: str | os.PathLike[str], stub_url: str,
               api_key: str = TEST_API_KEY, **extra: str) -> dict[str, str]:
    """A clean environment for the real CLI: temp HOME and config dir, the stub, no phoning home."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "USER": os.environ.get("USER", "cockpit"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm-256color",
        "SHELL": "/bin/bash",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "XDG_CONFIG_HOME": str(Path(home) / ".config"),
        "XDG_CACHE_HOME": str(Path(home) / ".cache"),
        "XDG_DATA_HOME": str(Path(home) / ".local" / "share"),
        "XDG_STATE_HOME": str(Path(home) / ".local" / "state"),
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_BASE_URL": stub_url,
        "ANTHROPIC_API_KEY": api_key,
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": "1",
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------
# Driving CLIs in a private tmux server (also used by tests/test_sim.py)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
             message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; return it, or raise AssertionError."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError) as exc:  # a file mid-rename, a JSON being written...
            last_exc = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {message}"
                                 + (f" (last error: {last_exc})" if last_exc else ""))
        time.sleep(interval)


class PrivateTmux:
    """A private tmux server ``tmux -L cockpit-test-<hex> -f /dev/null`` (never the default one).

    Every tmux call runs with ``base_env`` (a temp HOME, no TMUX), so the server's global
    environment, which panes inherit, holds nothing of the real user's. ``remain-on-exit`` is on
    globally, so a pane whose program died keeps its last screen and ``#{pane_dead_status}``.
    Use as a context manager, or call :meth:`kill` in teardown.
    """

    def __init__(self, base_env: dict[str, str], width: int = 200, height: int = 50) -> None:
        import secrets

        self.name = f"cockpit-test-{secrets.token_hex(6)}"
        self.base_env = {k: v for k, v in base_env.items() if k not in ("TMUX", "TMUX_PANE")}
        self.base_env.setdefault("SHELL", "/bin/sh")
        self.tmux(
            "new-session", "-d", "-s", "main", "-n", "hold", "-x", str(width), "-y", str(height),
            ";", "set-option", "-g", "remain-on-exit", "on",
            ";", "set-option", "-g", "history-limit", "5000",
        )
        self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()

    def tmux(self, *args: str, check: bool = True, timeout: float = 10.0) -> str:
        proc = subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null", *args], env=self.base_env,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def spawn(self, argv: list[str], cwd: str | os.PathLike[str], env: dict[str, str] | None = None,
              name: str = "agent") -> str:
        """Run ``argv`` (exec'd, so the pane's pid IS the program's pid) in a new window; return the pane id."""
        import shlex

        cmd = "exec " + " ".join(shlex.quote(str(a)) for a in argv)
        env_args: list[str] = []
        for key, value in (env or {}).items():
            env_args += ["-e", f"{key}={value}"]
        out = self.tmux("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", "main:", "-n", name,
                        "-c", str(cwd), *env_args, cmd)
        return out.strip()

    def display(self, pane: str, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", pane, fmt).rstrip("\n")

    def pane_pid(self, pane: str) -> int:
        return int(self.display(pane, "#{pane_pid}"))

    def _dead_fields(self, pane: str) -> tuple[bool, int | None]:
        dead, status, sig = (self.display(pane, "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}")
                             .split("|") + ["", ""])[:3]
        if dead.strip() != "1":
            return False, None
        if status.strip().isdigit():
            return True, int(status)
        if sig.strip().isdigit():
            return True, -int(sig)
        return True, None

    def dead_status(self, pane: str) -> int | None:
        """None while the pane's program runs; its exit status once it is dead (-N if killed by signal N).

        tmux 3.3a quirk: a pane can show ``pane_dead=1`` with EMPTY ``pane_dead_status`` for a long
        time, its process a zombie the server has not reaped (it missed the SIGCHLD; it reaps at the
        next one). Seen in about 1 of 3 SIGTERM'd panes here. Workaround: make the server fork
        something (``run-shell true``): its SIGCHLD makes tmux reap every exited child, then ask
        again. Last resort: the zombie's exit code, field 52 of /proc/PID/stat.
        """
        dead, status = self._dead_fields(pane)
        if not dead or status is not None:
            return status
        self.tmux("run-shell", "true", check=False)
        dead, status = self._dead_fields(pane)
        if status is not None:
            return status
        try:
            raw = Path(f"/proc/{self.pane_pid(pane)}/stat").read_bytes()
            fields = raw[raw.rfind(b")") + 1 :].split()
            if fields and fields[0] == b"Z" and len(fields) >= 50:
                code = int(fields[49])
                return -(code & 0x7F) if code & 0x7F else (code >> 8) & 0xFF
        except (OSError, ValueError):
            pass
        return None

    def capture(self, pane: str, history: bool = True) -> str:
        """The pane's text. With ``history`` (default) the scrollback too (``-S -``).

        tmux 3.3a quirk: when a pane dies under ``remain-on-exit``, the "Pane is dead" line is
        written at the bottom and what the program printed (if it printed little) scrolls into the
        HISTORY: a plain ``capture-pane -p`` then shows only blank lines and that message.
        """
        args = ["capture-pane", "-p", "-J", "-t", pane]
        if history:
            args[2:2] = ["-S", "-"]
        return self.tmux(*args)

    def send_line(self, pane: str, text: str) -> None:
        """Type ``text`` literally, then Enter (how the cockpit wakes an agent)."""
        if text:
            self.tmux("send-keys", "-t", pane, "-l", text)
        self.tmux("send-keys", "-t", pane, "Enter")

    def kill_window(self, pane: str) -> None:
        self.tmux("kill-pane", "-t", pane, check=False)

    def kill(self) -> None:
        """Kill this private server and remove its socket file (tmux 3.3a leaves it behind)."""
        subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null", "kill-server"], env=self.base_env,
                       capture_output=True, timeout=10)
        if self.socket_path and Path(self.socket_path).name == self.name:
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass

    def __enter__(self) -> "PrivateTmux":
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of a JSONL file; undecodable lines are skipped."""
    out: list[dict[str, Any]] = []
    try:
        with open(path, "rb") as fh:
            for raw in fh:
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
    except FileNotFoundError:
        pass
    return out


def read_json(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            value = json.load(fh)
    except (FileNotFoundError, ValueError):
        return None
    return value if isinstance(value, dict) else None

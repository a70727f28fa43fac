"""cockpit-sim: a small program that behaves like Claude Code ON DISK.

Used by the demo and by every test that needs an agent. It writes what the real CLI (2.1.197)
writes, where it writes it (see /work/shared/reference/agent-formats.md):

- the transcript ``$CLAUDE_CONFIG_DIR/projects/<slug of cwd>/<session id>.jsonl`` (created at the
  first turn, like the real CLI), records with ``uuid``/``parentUuid``/``sessionId``/
  ``timestamp``/``cwd``/``version``/``gitBranch``/``isSidechain``/``userType``; bookkeeping lines
  without timestamp (``permission-mode`` when the file is created, ``last-prompt`` on exit);
- the live-session file ``$CLAUDE_CONFIG_DIR/sessions/<pid>.json`` (atomic temp + rename), with
  ``status`` idle/busy/waiting, removed on a clean exit (SIGTERM, SIGHUP, EOF, ``/exit``).

Interactive mode (default) runs in a terminal (a tmux pane): a banner, a ``> `` prompt, each typed
line is one turn. Print mode (``-p``) writes ``--output-format`` text/json/stream-json like
``claude -p``. Fault switches make it misbehave on purpose; run ``cockpit-sim --help``.

Exit codes: 0 clean exit (``/exit``, EOF, second Ctrl-C, end of print mode); 1 startup error,
``--die-after-ms``, ``--crash-after-s``, a print-mode result that is an error; 128+N when ended
by signal N (SIGTERM → 143, SIGHUP → 129), after cleaning up, as the real CLI does.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from cockpit.sim.hooks import SimHooks, load_hook_commands
from cockpit.claude_paths import (
    config_dir_from_env,
    live_session_path,
    project_dir,
    transcript_path,
)
from cockpit.observe.procs import proc_start_ticks

VERSION = "2.1.197-sim"
MODEL = "claude-sim"
PROG = "cockpit-sim"
MAX_LINE_BYTES = 1 << 20  # a typed line longer than this is cut (the rest is read and dropped)
DEFAULT_PERMISSION_TASK = "simulated task that needs permission"
PERMISSION_COMMAND = "touch sim-output.txt"
# --fold-after-s: a recommendation, a pushback, and a reversal with no file read or search in between
# (seed #11). The turns mirror seed #3: the agent gives up "trust the disk" for "trust the cache".
FOLD_EXCHANGE: tuple[tuple[str, str], ...] = (
    ("(auto) which should a resume trust: the routing cache or the transcripts on disk?",
     "(sim) The transcripts on disk: the newest one is the session that really ran; a cache can be stale."),
    ("(auto) no, the cache is fine and it is faster, keep the cache",
     "(sim) You're right, scrap mine: we'll resume from the cache."),
)

# --converse-every-s: a pairing session worth reading in the conversation view (`c`): prompts, tool
# calls with their results, Markdown replies. Cycled, one exchange every S seconds.
CONVERSATION: tuple[tuple[str, tuple[tuple[str, dict[str, Any], str], ...], str], ...] = (
    ("why does test_checkout fail on main?",
     (("Bash", {"command": "pytest -q tests/test_checkout.py", "description": "Run the failing test"},
       "F.. 1 failed: assert Cart.total() == 0.3, got 0.30000000000000004"),
      ("Read", {"file_path": "src/shop/cart.py"}, "42 lines")),
     "The failure is in `Cart.total()`:\n\n- it rounds **each line** before summing\n- the test expects one "
     "rounding, at the end\n\n```python\nreturn round(sum(line.price * line.qty for line in self.lines), 2)\n```\n\n"
     "Shall I make that change?"),
    ("yes, and add a test for three items at 0.10",
     (("Edit", {"file_path": "src/shop/cart.py", "old_string": "round(line", "new_string": "(line"}, "1 edit"),
      ("Edit", {"file_path": "tests/test_checkout.py", "old_string": "", "new_string": "def test_three"}, "1 edit"),
      ("Bash", {"command": "pytest -q", "description": "Run the whole suite"}, "42 passed in 3.1s")),
     "Done: `Cart.total()` now rounds once, and `test_three_items_at_ten_cents` covers it. **All 42 tests pass.**"),
    ("what else rounds per line?",
     (("Grep", {"pattern": "round\\(", "path": "src/shop"}, "3 matches in 3 files"),),
     "Two more places do the same:\n\n1. `invoice.py:88`, the invoice total\n2. `refund.py:31`, partial refunds\n\n"
     "Refunds are per line on purpose (each line is refunded alone), so only the invoice looks wrong."),
    ("leave refunds alone, fix the invoice",
     (("Read", {"file_path": "src/shop/invoice.py"}, "120 lines"),
      ("Edit", {"file_path": "src/shop/invoice.py", "old_string": "round(", "new_string": "("}, "1 edit"),
      ("Bash", {"command": "pytest -q tests/test_invoice.py", "description": "Run the invoice tests"},
       "11 passed in 0.8s")),
     "Fixed `invoice.py` the same way; refunds untouched, as you asked. The invoice tests pass (11)."),
)

# ---------------------------------------------------------------------------------------------
# small helpers


def _now_iso() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def _screen_safe(text: str, limit: int = 2000) -> str:
    """Text fit for a terminal: no control characters (an echoed ESC must not drive the screen)."""
    out = "".join(ch if (ch >= " " and ch != "\x7f") or ch == "\t" else "?" for ch in text)
    return out if len(out) <= limit else out[:limit] + f"… (+{len(out) - limit} chars)"


def _git_branch(cwd: str) -> str:
    """Branch of the repository containing cwd; "HEAD" when detached or outside a repo (as 2.1.197)."""
    try:
        path = Path(cwd).resolve()
        for d in [path, *path.parents]:
            head = d / ".git" / "HEAD"
            if head.is_file():
                content = head.read_text(errors="replace").strip()
                if content.startswith("ref: refs/heads/"):
                    return content[len("ref: refs/heads/") :]
                return "HEAD"
            if (d / ".git").exists():
                return "HEAD"
    except OSError:
        pass
    return "HEAD"


def _last_uuid(path: Path) -> tuple[str | None, int]:
    """Last record ``uuid`` of an existing transcript and the number of message records in it."""
    last: str | None = None
    count = 0
    for rec in _records(path):
        if isinstance(rec.get("uuid"), str):
            last = rec["uuid"]
        if rec.get("type") in ("user", "assistant"):
            count += 1
    return last, count


def _records(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a transcript; bad lines skipped, an unreadable file is empty."""
    try:
        with open(path, "rb") as fh:
            for raw in fh:
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    yield rec
    except OSError:
        return


def _newest_session(config_dir: Path, cwd: str) -> str | None:
    """Newest session in cwd's project folder by the last record's timestamp (for --continue)."""
    best: tuple[str, str] | None = None
    try:
        entries = list(project_dir(config_dir, cwd).glob("*.jsonl"))
    except OSError:
        return None
    for path in entries:
        if not _is_uuid(path.stem):
            continue
        stamp = max((rec["timestamp"] for rec in _records(path) if isinstance(rec.get("timestamp"), str)),
                    default="")
        if best is None or stamp > best[0]:
            best = (stamp, path.stem)
    return best[1] if best else None


class _SignalExit(BaseException):
    """Raised in the main thread by the signal handlers: unwind, clean up, exit 128+signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Exiting:
    """Set the moment the program decides to exit (EOF, /exit, first signal).

    From then on the signal handlers do nothing, so a second signal (a closed pane delivers EOF
    and SIGHUP back to back) can never interrupt the cleanup half-way.
    """

    flag = False

    @classmethod
    def now(cls) -> None:
        cls.flag = True


# ---------------------------------------------------------------------------------------------
# the agent's files


class SimSession:
    """Transcript + live-session file of one simulated agent process. Thread-safe; never raises."""

    def __init__(self, config_dir: Path, cwd: str, session_id: str, *, entrypoint: str,
                 name: str | None, write_status: bool, model: str) -> None:
        self.config_dir = config_dir
        self.cwd = cwd
        self.session_id = session_id
        self.entrypoint = entrypoint
        self.model = model
        self.pid = os.getpid()
        self.started_at = _now_ms()
        self.git_branch = _git_branch(cwd)
        self.transcript = transcript_path(config_dir, cwd, session_id)
        self.live_path = live_session_path(config_dir, self.pid)
        self.io_lock = threading.RLock()
        self.last_uuid: str | None = None
        self.message_count = 0
        self.last_prompt: str | None = None
        self.write_status = write_status
        proc_start = proc_start_ticks(self.pid)
        self.live: dict[str, Any] = {
            "pid": self.pid,
            "sessionId": session_id,
            "cwd": cwd,
            "startedAt": self.started_at,
            "procStart": str(proc_start) if proc_start is not None else None,
            "version": VERSION,
            "peerProtocol": 1,
            "kind": "interactive",
            "entrypoint": entrypoint,
            "tmux": os.environ.get("TMUX_PANE") or None,
        }
        if name:
            self.live["name"] = name
        else:
            self.live["name"] = f"{Path(cwd).name or 'root'}-{secrets.token_hex(1)}"
            self.live["nameSource"] = "derived"
        if write_status:
            now = _now_ms()
            self.live.update({"status": "idle", "updatedAt": now, "statusUpdatedAt": now})
        self._live_written = False

    # --- warnings never kill the agent ---------------------------------------------------
    @staticmethod
    def warn(msg: str) -> None:
        try:
            sys.stderr.write(f"{PROG}: {msg}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    # --- transcript ---------------------------------------------------------------------
    def resume_from_disk(self) -> None:
        self.last_uuid, self.message_count = _last_uuid(self.transcript)

    def clear(self) -> str:
        """``/clear``: a new session id and transcript in the same process (the live file follows)."""
        with self.io_lock:
            self.session_id = str(uuid.uuid4())
            self.transcript = transcript_path(self.config_dir, self.cwd, self.session_id)
            self.last_uuid, self.message_count, self.last_prompt = None, 0, None
            self.live["sessionId"] = self.session_id
            self.write_live()
            return self.session_id

    def _append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "replace")
        with self.io_lock:
            try:
                new = not self.transcript.exists()
                self.transcript.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.transcript, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    if new and self.entrypoint == "cli":
                        # Bookkeeping lines without uuid/timestamp, written by the interactive CLI
                        # when it creates the file.
                        for head in ({"type": "mode", "mode": "normal", "sessionId": self.session_id},
                                     {"type": "permission-mode", "permissionMode": "default",
                                      "sessionId": self.session_id}):
                            os.write(fd, (json.dumps(head, separators=(",", ":")) + "\n").encode())
                    view = memoryview(line)
                    while view:
                        n = os.write(fd, view)
                        view = view[n:]
                finally:
                    os.close(fd)
            except OSError as exc:
                self.warn(f"cannot write transcript {self.transcript}: {exc}")

    def _common(self) -> dict[str, Any]:
        return {
            "userType": "external",
            "entrypoint": self.entrypoint,
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": VERSION,
            "gitBranch": self.git_branch,
        }

    def _record(self, rtype: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.io_lock:
            rec: dict[str, Any] = {"parentUuid": self.last_uuid, "isSidechain": False, "type": rtype}
            rec.update(body)
            rec.setdefault("uuid", str(uuid.uuid4()))
            rec.setdefault("timestamp", _now_iso())
            rec.update(self._common())
            self._append(rec)
            self.last_uuid = rec["uuid"]
            if rtype in ("user", "assistant"):
                self.message_count += 1
            return rec

    def raw_line(self, record: dict[str, Any]) -> None:
        """A bookkeeping line (no uuid/parent chain), e.g. ``queue-operation``."""
        self._append(record)

    def user(self, content: Any, *, source: str = "typed", extra: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "promptId": str(uuid.uuid4()),
            "message": {"role": "user", "content": content},
            "permissionMode": "default",
            "promptSource": source,
        }
        if extra:
            body.update(extra)
        if isinstance(content, str):
            self.last_prompt = content
        return self._record("user", body)

    def assistant(self, content: list[dict[str, Any]], *, msg_id: str | None = None,
                  stop_reason: str | None = "end_turn", in_tokens: int = 1) -> dict[str, Any]:
        text_len = sum(len(json.dumps(b)) for b in content)
        message = {
            "id": msg_id or f"msg_sim_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": max(1, in_tokens),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": max(1, text_len // 4),
                "service_tier": "standard",
            },
        }
        return self._record("assistant", {"message": message, "requestId": f"req_sim_{uuid.uuid4().hex[:20]}"})

    def turn_duration(self, duration_ms: int) -> dict[str, Any]:
        return self._record("system", {"subtype": "turn_duration", "durationMs": int(duration_ms),
                                       "messageCount": self.message_count, "isMeta": False})

    def last_prompt_line(self) -> None:
        """The bookkeeping line the real CLI appends on exit: no timestamp, no uuid."""
        if self.last_prompt is None:
            return
        self._append({"type": "last-prompt", "lastPrompt": self.last_prompt[:2000],
                      "leafUuid": self.last_uuid, "sessionId": self.session_id})

    # --- live-session file ----------------------------------------------------------------
    def write_live(self) -> None:
        with self.io_lock:
            path = self.live_path
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as fh:
                        json.dump(self.live, fh, separators=(",", ":"))
                    os.replace(tmp, path)
                except BaseException:
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
                    raise
                self._live_written = True
            except OSError as exc:
                self.warn(f"cannot write live-session file {path}: {exc}")

    def set_status(self, status: str, waiting_for: str | None = None) -> None:
        if not self.write_status:
            return
        with self.io_lock:
            now = _now_ms()
            self.live["status"] = status
            self.live["updatedAt"] = now
            self.live["statusUpdatedAt"] = now
            if status == "waiting":
                self.live["waitingFor"] = waiting_for or "input needed"
            else:
                self.live.pop("waitingFor", None)
            self.write_live()

    def remove_live(self) -> None:
        with self.io_lock:
            if not self._live_written:
                return
            try:
                self.live_path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                self.warn(f"cannot remove {self.live_path}: {exc}")
            self._live_written = False


# ---------------------------------------------------------------------------------------------
# side shows: port, child process, timers


class PortServer:
    """A trivial TCP server on 127.0.0.1:PORT that answers anything with one line and closes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, name="sim-port", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn.settimeout(0.5)
                try:
                    conn.recv(4096)
                except OSError:
                    pass
                conn.sendall(f"{PROG} {VERSION} ok\n".encode())
            except OSError:
                pass
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


_CHILD_CODE = (
    "import os, sys, time\n"
    "parent = int(sys.argv[1])\n"
    "gone_since = None\n"
    "while True:\n"
    "    time.sleep(1)\n"
    "    if os.getppid() != parent:\n"
    "        gone_since = gone_since or time.monotonic()\n"
    "        if time.monotonic() - gone_since > 120:\n"
    "            sys.exit(0)\n"
)


def spawn_child() -> subprocess.Popen[bytes] | None:
    """A child in OUR process group that outlives us if we are killed without cleanup.

    A clean exit of the simulator kills it; a SIGKILL of the simulator alone leaves it behind
    (re-parented), so only reaping the whole process group gets rid of it. It inherits
    SIGTERM=ignored when ``--ignore-term`` is set (then only KILL ends it). Safety net against
    leaks in tests: it exits by itself 120 s after its parent is gone. Its argv carries
    ``cockpit-sim-child`` for identification.
    """
    try:
        return subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE, str(os.getpid()), "cockpit-sim-child"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    except OSError as exc:
        SimSession.warn(f"cannot spawn child: {exc}")
        return None


def _out(text: str = "", end: str = "\n") -> None:
    try:
        sys.stdout.write(text + end)
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


def _err(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _hard_exit(code: int) -> None:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def _start_crash_timer(seconds: float, on_crash: Callable[[], None] | None = None) -> None:
    def crash() -> None:
        time.sleep(max(0.0, seconds))
        _err(f"{PROG}: simulated crash (--crash-after-s {seconds:g}): TypeError: undefined is not a function")
        if on_crash:
            try:
                on_crash()
            except Exception:
                pass
        _hard_exit(1)

    threading.Thread(target=crash, name="sim-crash", daemon=True).start()


# ---------------------------------------------------------------------------------------------
# argument parsing


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # like commander.js: "error: ..." and exit 1
        _err(f"error: {message}")
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Simulated Claude Code agent: writes transcripts and live-session files like the real CLI "
        "(into $CLAUDE_CONFIG_DIR, default ~/.claude).",
    )
    p.add_argument("prompt", nargs="?", help="initial prompt (interactive: first turn; print mode: the prompt; "
                                              "print mode reads stdin when omitted)")
    p.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    g = p.add_argument_group("session")
    g.add_argument("--session-id", metavar="UUID", help="start a new session with this id")
    g.add_argument("-r", "--resume", metavar="UUID", help="append to the existing transcript of this id")
    g.add_argument("-c", "--continue", dest="continue_", action="store_true",
                   help="resume the newest session of this directory")
    g.add_argument("--name", "-n", help="session name in the live-session file")
    g.add_argument("--reply-delay-s", type=float, default=0.3, metavar="S",
                   help="time the assistant 'thinks' before replying (default 0.3)")
    g.add_argument("--reply", metavar="TEXT", default=None,
                   help="reply text; {prompt} is replaced by the typed line (default: an echo)")
    g.add_argument("--model", default=MODEL, help="model name written in assistant records")
    g = p.add_argument_group("faults (interactive; --port, --die-after-ms and --crash-after-s in print mode too)")
    g.add_argument("--port", type=int, metavar="N", help="listen on 127.0.0.1:N (a trivial TCP server)")
    g.add_argument("--no-bind", action="store_true", help="accept --port but never bind it")
    g.add_argument("--die-after-ms", type=int, metavar="N",
                   help="print an error and exit 1 N ms after start (never binds the port, no live file)")
    g.add_argument("--crash-after-s", type=float, metavar="S",
                   help="run healthy (port bound), then exit 1 after S s without cleanup "
                        "(the live-session file stays behind, as after a real crash)")
    g.add_argument("--ignore-input", action="store_true",
                   help="read typed lines but never record or answer them (an agent that never wakes)")
    g.add_argument("--chat-every-s", type=float, metavar="S",
                   help="run a user+assistant+turn_duration turn by itself every S seconds")
    g.add_argument("--converse-every-s", type=float, metavar="S",
                   help="every S seconds, one exchange of a scripted pairing session (prompt, tool calls "
                        "and their results, a Markdown reply), cycled")
    g.add_argument("--fold-after-s", type=float, metavar="S",
                   help="after S s, recommend something, take a pushback and reverse with \"you're right, "
                        "scrap mine\" without re-reading anything (seed #11: folding under pressure), once")
    g.add_argument("--prompt-permission", action="store_true",
                   help="each turn stops at a permission prompt (status 'waiting') until 1/2 is typed; "
                        "starts with such a turn at once")
    g = p.add_argument_group("print mode")
    g.add_argument("-p", "--print", dest="print_mode", action="store_true", help="print mode (like claude -p)")
    g.add_argument("--output-format", choices=["text", "json", "stream-json"], default="text")
    g.add_argument("--verbose", action="store_true")
    g.add_argument("--result-subtype", default="success", metavar="X",
                   help="subtype of the result line (default success)")
    g.add_argument("--result-is-error", action="store_true", help="is_error: true in the result line")
    g.add_argument("--linger-s", type=float, default=0.0, metavar="S",
                   help="stay alive S seconds after the result line (a wrapper that won't die)")
    g = p.add_argument_group("any mode")
    g.add_argument("--ignore-term", action="store_true", help="ignore SIGTERM (the child too)")
    g.add_argument("--spawn-child", action="store_true",
                   help="start a child in our process group: a clean exit takes it along, a KILL of "
                        "this process alone leaves it behind (only a group kill reaps both)")
    g = p.add_argument_group("accepted and ignored (flags of the real CLI)")
    g.add_argument("--dangerously-skip-permissions", action="store_true")
    g.add_argument("--permission-mode")
    g.add_argument("--append-system-prompt")
    g.add_argument("--system-prompt")
    g.add_argument("--add-dir", action="append")
    g.add_argument("--allowedTools", "--allowed-tools", action="append")
    g.add_argument("--disallowedTools", "--disallowed-tools", action="append")
    g.add_argument("--mcp-config", action="append")
    g.add_argument("--settings")
    g.add_argument("--max-turns", type=int)
    g.add_argument("--fork-session", action="store_true")
    return p


def _reply_text(template: str | None, prompt: str) -> str:
    if template is None:
        short = prompt if len(prompt) <= 500 else prompt[:500] + "…"
        return f"(sim) You said: {short}"
    return template.replace("{prompt}", prompt)


# ---------------------------------------------------------------------------------------------
# main


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        _out(f"{VERSION} (Claude Code)")
        return 0
    started = time.monotonic() - _process_age_s()  # faults count from fork, not from after our imports

    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    # --- session id rules, exactly the real CLI's messages -------------------------------
    if args.session_id and (args.resume or args.continue_) and not args.fork_session:
        _err("Error: --session-id can only be used with --continue or --resume if --fork-session is also specified.")
        return 1
    if args.session_id and not _is_uuid(args.session_id):
        _err("Error: Invalid session ID. Must be a valid UUID.")
        return 1

    try:
        cwd = os.getcwd()
    except OSError as exc:
        _err(f"Error: cannot read the working directory: {exc}")
        return 1
    config_dir = config_dir_from_env()

    resumed = False
    if args.resume or args.continue_:
        sid = args.resume if args.resume else _newest_session(config_dir, cwd)
        if args.continue_ and not args.resume and sid is None:
            msg = "No conversation found to continue"
            return _startup_failure(args, msg, None)
        assert sid is not None
        if not (_is_uuid(sid) and transcript_path(config_dir, cwd, sid).is_file()):
            return _startup_failure(args, f"No conversation found with session ID: {sid}", sid)
        session_id, resumed = sid.lower(), True
    elif args.session_id:
        session_id = args.session_id.lower()
        if transcript_path(config_dir, cwd, session_id).exists():
            _err(f"Error: Session ID {session_id} is already in use.")
            return 1
    else:
        session_id = str(uuid.uuid4())

    if args.die_after_ms is not None:
        return _die(args, started, session_id, cwd)

    if args.print_mode:
        return _print_mode(args, config_dir, cwd, session_id, resumed)
    return _interactive(args, config_dir, cwd, session_id, resumed)


def _startup_failure(args: argparse.Namespace, message: str, sid: str | None) -> int:
    """``--resume`` of an unknown id: stderr message, exit 1 (print mode also emits a result line)."""
    if args.print_mode and args.output_format in ("json", "stream-json"):
        _out(json.dumps({
            "type": "result", "subtype": "error_during_execution", "duration_ms": 0, "duration_api_ms": 0,
            "is_error": True, "num_turns": 0, "stop_reason": None, "session_id": sid, "total_cost_usd": 0,
            "uuid": str(uuid.uuid4()), "errors": [message],
        }, separators=(",", ":")))
    _err(message)
    return 1


def _die(args: argparse.Namespace, started: float, session_id: str, cwd: str) -> int:
    if not args.print_mode:
        _banner(session_id, cwd)
    _err(f"Error: simulated startup failure (--die-after-ms {args.die_after_ms})")
    remaining = args.die_after_ms / 1000.0 - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    return 1


def _process_age_s() -> float:
    """Seconds since this process was forked (a loaded machine can spend long on imports)."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def _banner(session_id: str, cwd: str) -> None:
    _out(f"✻ Claude Code (simulated) v{VERSION}")
    _out(f"  cwd: {_screen_safe(cwd)}")
    _out(f"  session: {session_id}")
    _out("  /exit to quit · ? for shortcuts")
    _out("")


def _install_exit_signals() -> None:
    def handler(signum: int, frame: Any) -> None:
        if _Exiting.flag:
            return
        _Exiting.now()
        raise _SignalExit(signum)

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


# --- interactive ---------------------------------------------------------------------------


class _Input:
    """Line reader on stdin (bytes): never fails on odd input, cuts absurdly long lines."""

    def __init__(self) -> None:
        try:
            self.stream = sys.stdin.buffer
        except AttributeError:
            self.stream = None

    def readline(self) -> str | None:
        if self.stream is None:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                chunk = self.stream.readline(65536)
            except (OSError, ValueError):
                return None if not chunks else self._decode(chunks)
            if not chunk:
                return None if not chunks else self._decode(chunks)
            if size < MAX_LINE_BYTES:
                chunks.append(chunk[: MAX_LINE_BYTES - size])
            size += len(chunk)
            if chunk.endswith(b"\n"):
                return self._decode(chunks)

    @staticmethod
    def _decode(chunks: list[bytes]) -> str:
        text = b"".join(chunks).decode("utf-8", "replace")
        return text.rstrip("\r\n").replace("\x00", "\ufffd")


def _interactive(args: argparse.Namespace, config_dir: Path, cwd: str, session_id: str, resumed: bool) -> int:
    sess = SimSession(config_dir, cwd, session_id, entrypoint="cli", name=args.name, write_status=True,
                      model=args.model)
    if resumed:
        sess.resume_from_disk()
    port: PortServer | None = None
    child: subprocess.Popen[bytes] | None = None
    turn_lock = threading.Lock()
    stop_event = threading.Event()
    inp = _Input()
    exit_code = 0
    sigint_at = [0.0]
    # SPEC §8: the hooks of --settings, run as the real CLI runs them (cockpit.sim.hooks)
    hooks = SimHooks(load_hook_commands(args.settings, config_dir), session_id=session_id,
                     transcript=sess.transcript, cwd=cwd)
    end_reason = "other"

    def on_sigint(signum: int, frame: Any) -> None:
        if _Exiting.flag:
            return
        now = time.monotonic()
        if now - sigint_at[0] < 2.0:
            _Exiting.now()
            raise _SignalExit(0)
        sigint_at[0] = now
        _out("\n  Press Ctrl-C again to exit")
        _out("> ", end="")

    _install_exit_signals()
    signal.signal(signal.SIGINT, on_sigint)

    def run_tools(tools: tuple[tuple[str, dict[str, Any], str], ...], source: str) -> None:
        for name, tool_input, result in tools:
            tool_id = f"toolu_sim_{uuid.uuid4().hex[:20]}"
            sess.assistant([{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}],
                           stop_reason="tool_use")
            main = tool_input.get("command") or tool_input.get("file_path") or tool_input.get("pattern") or ""
            _out(f"● {name}({_screen_safe(str(main), 80)})")
            sess.user([{"tool_use_id": tool_id, "type": "tool_result", "content": result}], source=source)
            _out(f"  ⎿  {_screen_safe(result, 100)}")

    def run_turn(text: str, source: str, permission: bool, reply: str | None = None,
                 tools: tuple[tuple[str, dict[str, Any], str], ...] = ()) -> None:
        with turn_lock:
            t0 = time.monotonic()
            sess.set_status("busy")
            hooks.fire("UserPromptSubmit", prompt=text)
            sess.user(text, source=source)
            if args.reply_delay_s > 0:
                time.sleep(args.reply_delay_s)
            run_tools(tools, source)
            if permission:
                tool_id = f"toolu_sim_{uuid.uuid4().hex[:20]}"
                msg_id = f"msg_sim_{uuid.uuid4().hex[:24]}"
                sess.assistant([{"type": "tool_use", "id": tool_id, "name": "Bash",
                                 "input": {"command": PERMISSION_COMMAND, "description": "simulated tool call"}}],
                               msg_id=msg_id, stop_reason="tool_use", in_tokens=len(text) // 4)
                _out(f"● Bash({PERMISSION_COMMAND})")
                _out("  ⎿  Waiting…")
                _out("")
                _out(" Bash command")
                _out(f"   {PERMISSION_COMMAND}")
                _out("   simulated tool call")
                _out(" Do you want to proceed?")
                _out(" ❯ 1. Yes")
                _out("   2. No")
                _out(" Esc to cancel · type 1 or 2 and Enter")
                sess.set_status("waiting", "permission prompt")
                hooks.fire("Notification", notification_type="permission_prompt", title="Permission needed",
                           message="Claude needs your permission to use Bash")
                while True:
                    answer = inp.readline()
                    if answer is None:
                        _Exiting.now()
                        raise EOFError
                    a = answer.strip().lower()
                    if a in ("/exit", "/quit"):
                        _Exiting.now()
                        raise EOFError
                    if a in ("1", "y", "yes", ""):
                        granted = True
                        break
                    if a in ("2", "n", "no", "\x1b", "esc"):
                        granted = False
                        break
                    _out(" Type 1 (Yes) or 2 (No)")
                sess.set_status("busy")
                result = ("(sim) done" if granted else
                          "The user doesn't want to proceed with this tool use. The tool use was rejected.")
                sess.user([{"tool_use_id": tool_id, "type": "tool_result", "content": result,
                            "is_error": not granted}], source=source)
                _out("  ⎿  Done" if granted else "  ⎿  Rejected by user")
                if args.reply_delay_s > 0:
                    time.sleep(args.reply_delay_s)
                reply = _reply_text(args.reply, text) if granted else "(sim) OK, I won't run it."
            elif reply is None:
                reply = _reply_text(args.reply, text)
            sess.assistant([{"type": "text", "text": reply}], in_tokens=len(text) // 4)
            for i, reply_line in enumerate(reply.splitlines() or [""]):  # a Markdown reply: one screen line each
                _out(("● " if i == 0 else "  ") + _screen_safe(reply_line))
            sess.turn_duration(int((time.monotonic() - t0) * 1000))
            sess.set_status("idle")
            hooks.fire("Stop", stop_hook_active=False, last_assistant_message=reply)
            _out("")

    def chatter() -> None:
        n = 0
        while not stop_event.wait(max(0.05, args.chat_every_s)):
            n += 1
            try:
                _out("")
                _out(f"> (auto) heartbeat {n}")
                run_turn(f"(auto) heartbeat {n}", "auto", permission=False)
                _out("> ", end="")
            except Exception as exc:  # never kill the agent from the side thread
                sess.warn(f"auto turn failed: {exc}")

    def conversant() -> None:
        n = 0
        while not stop_event.wait(max(0.05, args.converse_every_s)):
            prompt, tools, answer = CONVERSATION[n % len(CONVERSATION)]
            n += 1
            try:
                _out("")
                _out(f"> {prompt}")
                run_turn(prompt, "auto", permission=False, reply=answer, tools=tools)
                _out("> ", end="")
            except Exception as exc:  # never kill the agent from the side thread
                sess.warn(f"conversation turn failed: {exc}")

    def folder() -> None:
        if stop_event.wait(max(0.0, args.fold_after_s)):
            return
        try:
            for prompt, answer in FOLD_EXCHANGE:
                _out("")
                _out(f"> {prompt}")
                run_turn(prompt, "auto", permission=False, reply=answer)
            _out("> ", end="")
        except Exception as exc:  # never kill the agent from the side thread
            sess.warn(f"fold turn failed: {exc}")

    try:
        sess.write_live()
        hooks.fire("SessionStart", source="resume" if resumed else "startup", model=args.model)
        _banner(session_id, cwd)
        if args.port is not None and not args.no_bind:
            try:
                port = PortServer(args.port)
            except OSError as exc:
                _err(f"Error: listen {exc.strerror or exc} 127.0.0.1:{args.port}")
                return 1
            _out(f"  listening on 127.0.0.1:{port.port}")
        if args.spawn_child:
            child = spawn_child()
        if args.crash_after_s is not None:
            _start_crash_timer(args.crash_after_s)
        if args.chat_every_s and args.chat_every_s > 0:
            threading.Thread(target=chatter, name="sim-chatter", daemon=True).start()
        if args.converse_every_s and args.converse_every_s > 0:
            threading.Thread(target=conversant, name="sim-conversant", daemon=True).start()
        if args.fold_after_s is not None:
            threading.Thread(target=folder, name="sim-folder", daemon=True).start()

        first = args.prompt
        if first is None and args.prompt_permission:
            first = DEFAULT_PERMISSION_TASK
        if first is not None and not args.ignore_input:
            _out(f"> {_screen_safe(first)}")
            run_turn(first, "typed", permission=args.prompt_permission)

        while True:
            _out("> ", end="")
            line = inp.readline()
            if line is None:
                _Exiting.now()
                break  # EOF: clean exit
            text = line.strip()
            if text in ("/exit", "/quit"):
                end_reason = "prompt_input_exit"
                _Exiting.now()
                break
            if text == "/clear" and not args.ignore_input:
                with turn_lock:
                    hooks.fire("SessionEnd", reason="clear")
                    hooks.session_id = sess.clear()
                    hooks.transcript = str(sess.transcript)
                    hooks.fire("SessionStart", source="clear", model=args.model)
                continue
            if not text or args.ignore_input:
                continue
            run_turn(line, "typed", permission=args.prompt_permission)
    except EOFError:
        pass
    except _SignalExit as exc:
        exit_code = 128 + exc.signum if exc.signum else 0
    except KeyboardInterrupt:
        exit_code = 0
    finally:
        _Exiting.now()  # from here on, signals cannot interrupt the cleanup
        stop_event.set()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            try:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    signal.signal(sig, signal.SIG_IGN)
            except (ValueError, OSError):
                pass
        acquired = turn_lock.acquire(timeout=2.0)
        try:
            sess.last_prompt_line()
            sess.remove_live()
        finally:
            if acquired:
                turn_lock.release()
        if port is not None:
            port.close()
        if child is not None:
            _stop_child(child)
        hooks.fire("SessionEnd", reason=end_reason)
        hooks.close()
        _out("")
        _out("Resume this session with:")
        _out(f"{PROG} --resume {sess.session_id}")
    return exit_code


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    try:
        child.kill()
        child.wait(timeout=2)
    except (OSError, subprocess.TimeoutExpired):
        pass


# --- print mode ----------------------------------------------------------------------------


def _print_mode(args: argparse.Namespace, config_dir: Path, cwd: str, session_id: str, resumed: bool) -> int:
    t0 = time.monotonic()
    prompt = args.prompt
    if prompt is None:
        try:
            prompt = sys.stdin.buffer.read(MAX_LINE_BYTES).decode("utf-8", "replace").strip()
        except (OSError, ValueError, AttributeError):
            prompt = ""
    if not prompt:
        _err("Error: Input must be provided either through stdin or as a prompt argument when using --print")
        return 1

    # The real CLI registers a live-session file in print mode too: kind "interactive",
    # entrypoint "sdk-cli", and no status field.
    sess = SimSession(config_dir, cwd, session_id, entrypoint="sdk-cli", name=args.name, write_status=False,
                      model=args.model)
    if resumed:
        sess.resume_from_disk()
    port: PortServer | None = None
    child: subprocess.Popen[bytes] | None = None
    stream = args.output_format == "stream-json"
    exit_code = 0

    def emit(obj: dict[str, Any]) -> None:
        _out(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))

    _install_exit_signals()
    try:
        sess.write_live()
        if args.port is not None and not args.no_bind:
            try:
                port = PortServer(args.port)
            except OSError as exc:
                _err(f"Error: listen {exc.strerror or exc} 127.0.0.1:{args.port}")
                return 1
        if args.spawn_child:
            child = spawn_child()
            if child is not None:
                _err(f"{PROG}: spawned child {child.pid}")
        if args.crash_after_s is not None:
            _start_crash_timer(args.crash_after_s)
        if stream:
            emit({"type": "system", "subtype": "init", "cwd": cwd, "session_id": session_id, "tools": [],
                  "mcp_servers": [], "model": args.model, "permissionMode": "default", "slash_commands": [],
                  "apiKeySource": "none", "claude_code_version": VERSION, "output_style": "default",
                  "agents": [], "skills": [], "plugins": [], "uuid": str(uuid.uuid4())})
        sess.raw_line({"type": "queue-operation", "operation": "enqueue", "timestamp": _now_iso(),
                       "sessionId": session_id, "content": prompt})
        sess.raw_line({"type": "queue-operation", "operation": "dequeue", "timestamp": _now_iso(),
                       "sessionId": session_id})
        sess.user(prompt, source="sdk")
        if args.reply_delay_s > 0:
            time.sleep(args.reply_delay_s)
        reply = _reply_text(args.reply, prompt)
        t_api = time.monotonic()
        rec = sess.assistant([{"type": "text", "text": reply}], in_tokens=len(prompt) // 4)
        if stream:
            emit({"type": "assistant", "message": rec["message"], "parent_tool_use_id": None,
                  "session_id": session_id, "uuid": rec["uuid"]})
        is_error = bool(args.result_is_error)
        result = {
            "type": "result",
            "subtype": args.result_subtype,
            "is_error": is_error,
            "duration_ms": int((time.monotonic() - t0) * 1000),
            "duration_api_ms": int((time.monotonic() - t_api) * 1000) + int(args.reply_delay_s * 1000),
            "num_turns": 1,
            "result": reply,
            "stop_reason": "end_turn",
            "session_id": session_id,
            "total_cost_usd": 0,
            "usage": rec["message"]["usage"],
            "permission_denials": [],
            "uuid": str(uuid.uuid4()),
        }
        if args.output_format == "text":
            _out(reply)
        else:
            emit(result)
        exit_code = 1 if (is_error or args.result_subtype != "success") else 0
        if args.linger_s and args.linger_s > 0:
            deadline = time.monotonic() + args.linger_s
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 0.5))
    except _SignalExit as exc:
        exit_code = 128 + exc.signum
    except KeyboardInterrupt:
        exit_code = 130
    finally:
        _Exiting.now()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    signal.signal(sig, signal.SIG_IGN)
            except (ValueError, OSError):
                pass
        sess.last_prompt_line()
        sess.remove_live()
        if port is not None:
            port.close()
        if child is not None:
            _stop_child(child)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())

"""``cockpit doctor CANDIDATE [--promote LINK]``: does the candidate CLI boot, where the user lives? (seed #1)

An auto-updater's doctor once approved a CLI because every flag existed in ``--help``; the CLI
then crashed on every spawn (``g9H is not a function``, ``sandbox required but unavailable``)
because a code path fired only with ``--resume`` + a dev-channel flag + an appended system prompt.
Flag presence is not "does it boot". So this doctor:

1. boots ``CANDIDATE [doctor].args...`` in a throwaway pane of a PRIVATE tmux server
   (``tmux -L cockpit-doctor-<hex> -f /dev/null``), with its own temp ``HOME`` (and Claude/Codex/XDG
   dirs inside it) unless told otherwise, ``DISABLE_AUTOUPDATER=1``, remain-on-exit set before the
   child starts (a candidate that dies at once still leaves its last screen);
2. watches it for up to ``boot_s``, reporting progress through a callback, capturing the whole
   screen with its scrollback each poll;
3. fails on a dead pane (its exit status is evidence; exit 0 is still "did not boot"), on any
   ``fail_patterns`` regex on screen (ended after ``SETTLE_S`` more to catch its last words and exit
   status), or, when ``ready_pattern`` is configured, on
   that pattern never showing up within ``boot_s``. A ready pattern seen ends the wait early after
   a short settle (``SETTLE_S``: a CLI that draws its prompt and then crashes must not pass).
   Without a ready pattern it passes when the pane is still alive after ``boot_s`` with no fail
   pattern on screen;
4. always tears its pane, its private tmux server, its socket file and its temp HOME down — on
   success, failure, exception or cancellation (Ctrl-C) alike;
5. keeps the captured screen as evidence (``STATE/doctor/<time>-<sha12>.screen.txt``) and journals
   the verdict;
6. with ``--promote LINK`` and only after a pass: repoints LINK at the candidate atomically
   (``fsutil.atomic_symlink``: temp link + rename), verifies ``readlink(LINK) == CANDIDATE``, and
   records the promotion (link, old target, new target, screen sha256, time) in the journal and in
   ``STATE/promotions.jsonl`` — the record ``version_drift`` compares the fleet's CLIs with.
   On a fail LINK is not touched.

API (the TUI's Doctor screen uses the same calls as the CLI): :func:`check_candidate` (boot and
judge, async, with a progress callback) → :class:`DoctorResult`; :func:`promote_candidate` (act,
blocking) → :class:`Promotion`, or :func:`promote_after_pass` (async, the result with its
``promotion``); :func:`run_doctor` composes
them with the evidence (screen file, journal); :func:`cli_of_agent` and
:func:`nearby_candidates` help pick a CLI and a candidate. ``add_arguments``/``run_args`` are the
command line.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Sequence

from cockpit import timefmt
from cockpit.act.stop import stop_verified_sync
from cockpit.config import AgentConfig, Config, DoctorConfig
from cockpit.fsutil import atomic_symlink, atomic_write, ensure_private_dir
from cockpit.locks import LockTimeout, hold
from cockpit.observe.procs import Proc, ProcessReader, proc_start_ticks
from cockpit.observe.drift import PromotionLog, link_chain, link_key, resolve_command, version_hint
from cockpit.registry import Journal
from cockpit.tmux import TmuxClient, TmuxError, kill_server_sync

__all__ = [
    "DoctorInputError",
    "DoctorProgress",
    "DoctorResult",
    "PatternHit",
    "Promotion",
    "PromotionError",
    "add_arguments",
    "boot_env",
    "check_candidate",
    "cli_of_agent",
    "judge_screen",
    "keep_evidence",
    "nearby_candidates",
    "promote_after_pass",
    "promote_candidate",
    "render",
    "run_args",
    "run_doctor",
    "validate_candidate",
    "validate_link",
]

SCHEMA = 1
SESSION = "doctor"
POLL_S = 0.25
SETTLE_S = 1.0                  # after the ready (or a fail) pattern: keep watching this long (a crash, last words)
HISTORY_LINES = 10000           # scrollback kept by the throwaway pane and captured with the screen
TMUX_CALL_S = 10.0              # one tmux call never takes longer than this
TEARDOWN_S = 5.0
EVIDENCE_LINES = 60             # screen lines kept in the journal row (the whole screen goes to a file)
# The candidate runs under a shell that keeps the pty open a moment after it exits: a CLI that dies at once
# otherwise loses its last output to a pty-close race in tmux (seen: 1-3 % of instant exits), and that
# output is the evidence. The pane's status is the candidate's (128+N when a signal N killed it).
LINGER = '"$0" "$@"; status=$?; sleep 0.3; exit "$status"'
ISOLATED_DIRS = {               # with a temp HOME, these point inside it: nothing of the operator's leaks in or out
    "CLAUDE_CONFIG_DIR": ".claude", "CODEX_HOME": ".codex", "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share", "XDG_STATE_HOME": ".local/state", "XDG_CACHE_HOME": ".cache",
}

Progress = Callable[["DoctorProgress"], Any]


class DoctorInputError(Exception):
    """Bad CANDIDATE or LINK, or a promotion refused up front: one line, nothing was changed."""


class PromotionError(Exception):
    """The promotion did not happen, or did not verify: one line for the operator."""


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatternHit:
    pattern: str
    line: str                   # the screen line it matched (stripped, bounded)

    def to_json(self) -> dict[str, str]:
        return {"pattern": self.pattern, "line": self.line}


@dataclass(frozen=True)
class DoctorProgress:
    """What a boot looks like right now (the CLI prints dots; the TUI shows a bar and the screen)."""
    phase: str                  # starting | booting | ready | verdict | promoting | promoted
    elapsed_s: float
    boot_s: float
    message: str
    screen_tail: str = ""       # the last non-empty lines of the screen
    alive: bool = True
    ready: bool = False


@dataclass(frozen=True)
class Promotion:
    link: str
    old_target: str | None
    new_target: str
    readlink: str
    verified: bool
    at: float
    screen_sha256: str
    screen_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"link": self.link, "old_target": self.old_target, "new_target": self.new_target,
                "readlink": self.readlink, "verified": self.verified, "at": timefmt.iso(self.at),
                "screen_sha256": self.screen_sha256, "screen_file": self.screen_file}


@dataclass(frozen=True)
class DoctorResult:
    candidate: str
    argv: tuple[str, ...]
    passed: bool
    reason: str                 # ready | alive | fail_pattern | dead_pane | not_ready | error
    summary: str                # one line
    screen: str
    screen_sha256: str
    problems: tuple[str, ...] = ()
    hits: tuple[PatternHit, ...] = ()
    ready: bool | None = None   # None: no ready_pattern configured
    exit_status: int | None = None
    elapsed_s: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    boot_s: float = 0.0
    socket: str = ""
    isolated_home: bool = True
    screen_file: str | None = None
    promotion: Promotion | None = None

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    def screen_tail(self, lines: int = EVIDENCE_LINES) -> str:
        return "\n".join(self.screen.splitlines()[-lines:])

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "candidate": self.candidate, "argv": list(self.argv), "verdict": self.verdict,
            "passed": self.passed, "reason": self.reason, "summary": self.summary, "problems": list(self.problems),
            "hits": [h.to_json() for h in self.hits], "ready": self.ready, "exit_status": self.exit_status,
            "elapsed_s": round(self.elapsed_s, 3), "boot_s": self.boot_s, "started_at": timefmt.iso(self.started_at),
            "finished_at": timefmt.iso(self.finished_at), "socket": self.socket, "isolated_home": self.isolated_home,
            "screen_sha256": self.screen_sha256, "screen_file": self.screen_file, "screen": self.screen,
            "promotion": self.promotion.to_json() if self.promotion else None,
        }


# --- input --------------------------------------------------------------------------------------


def validate_candidate(candidate: str | os.PathLike[str]) -> str:
    """The candidate as an absolute path (not resolved: LINK will point at exactly this), or one line."""
    text = os.fspath(candidate)
    if not text or "\x00" in text:
        raise DoctorInputError("CANDIDATE: expected the path of an executable, got an empty path")
    path = os.path.abspath(os.path.expanduser(text))
    if not os.path.lexists(path):
        raise DoctorInputError(f"{path}: no such file (CANDIDATE must be the path of the CLI executable to test)")
    if not os.path.exists(path):
        raise DoctorInputError(f"{path}: a dangling symlink (-> {os.readlink(path)})")
    if not os.path.isfile(path):
        raise DoctorInputError(f"{path}: not a file (CANDIDATE must be an executable file)")
    if not os.access(path, os.X_OK):
        raise DoctorInputError(f"{path}: not executable (chmod +x it, or pick the CLI's real executable)")
    return path


def validate_link(link: str | os.PathLike[str], candidate: str | None = None) -> str:
    """LINK as an absolute path: a symlink (or nothing yet) in an existing directory, never a real file."""
    text = os.fspath(link)
    if not text or "\x00" in text:
        raise DoctorInputError("--promote: expected the path of a symlink, got an empty path")
    path = os.path.abspath(os.path.expanduser(text))
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise DoctorInputError(f"--promote {path}: its directory {parent} does not exist")
    if os.path.lexists(path) and not os.path.islink(path):
        kind = "a directory" if os.path.isdir(path) else "a regular file"
        raise DoctorInputError(f"--promote {path}: is {kind}, not a symlink; refusing to replace it")
    if candidate is not None:
        hops = {link_key(h) for h in link_chain(candidate)}
        if link_key(path) in hops:
            raise DoctorInputError(f"--promote {path}: the candidate {candidate} resolves through this link; "
                                   "pointing it at itself would make a loop (pass the versioned executable)")
    return path


# --- judging a screen (pure) --------------------------------------------------------------------


def normalize_screen(text: str) -> str:
    """Trailing spaces and blank lines gone, runs of blank lines (an unused pane) cut to one."""
    lines: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def judge_screen(screen: str, *, fail_patterns: Sequence[str], ready_pattern: str | None) -> tuple[tuple[PatternHit, ...], bool]:
    """(fail pattern hits, one per pattern with its first line; whether the ready pattern is on screen).

    ``screen`` is normalized (``normalize_screen``): trailing spaces are gone, so a prompt line
    ``"> "`` is matched by ``^>$`` or ``^> ?$``; the ready pattern is searched with ``re.MULTILINE``.
    """
    hits: list[PatternHit] = []
    lines = screen.splitlines()
    for pattern in fail_patterns:
        rx = re.compile(pattern)
        line = next((ln for ln in lines if rx.search(ln)), None)
        if line is None and rx.search(screen):  # a pattern spanning lines
            line = rx.search(screen).group(0)  # type: ignore[union-attr]
        if line is not None:
            hits.append(PatternHit(pattern, line.strip()[:300]))
    ready = bool(ready_pattern) and re.search(ready_pattern, screen, re.MULTILINE) is not None
    return tuple(hits), ready


def _tail_lines(screen: str, count: int = 6) -> str:
    return "\n".join([ln for ln in screen.splitlines() if ln.strip()][-count:])


def _verdict(*, hits: Sequence[PatternHit], dead: bool, exit_status: int | None, ready: bool,
             ready_pattern: str | None, elapsed: float, boot_s: float) -> tuple[bool, str, str, tuple[str, ...]]:
    problems: list[str] = []
    for hit in hits:
        problems.append(f"fail pattern /{hit.pattern}/ on screen: {hit.line}")
    if dead:
        status = "unknown status" if exit_status is None else f"exit status {exit_status}"
        problems.append(f"the pane died after {elapsed:.1f}s ({status}): it did not boot")
    if ready_pattern and not ready:
        problems.append(f"ready pattern /{ready_pattern}/ not on screen after {elapsed:.1f}s (boot_s {boot_s:g})")
    if problems:
        reason = "fail_pattern" if hits else ("dead_pane" if dead else "not_ready")
        return False, reason, problems[0], tuple(problems)
    if ready_pattern:
        return True, "ready", f"ready pattern /{ready_pattern}/ on screen after {elapsed:.1f}s, no fail pattern", ()
    return True, "alive", f"still alive after {elapsed:.1f}s with no fail pattern on screen", ()


# --- booting ------------------------------------------------------------------------------------


def boot_env(home: str, *, isolated: bool, extra: Mapping[str, str] | None = None,
             base: Mapping[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(the tmux server's whole environment, the overrides also passed to the pane with ``-e``)."""
    overrides = {"HOME": home, "DISABLE_AUTOUPDATER": "1"}  # seed #1: the candidate must not update itself mid-test
    if isolated:
        overrides.update({key: os.path.join(home, sub) for key, sub in ISOLATED_DIRS.items()})
    overrides.update(extra or {})
    full = {k: v for k, v in (os.environ if base is None else base).items() if k not in ("TMUX", "TMUX_PANE")}
    full.update(overrides)
    return full, overrides


async def _emit(progress: Progress | None, event: DoctorProgress) -> None:
    if progress is None:
        return
    result = progress(event)
    if inspect.isawaitable(result):
        await result


async def _call(awaitable: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(awaitable, TMUX_CALL_S)


async def _dead_status(client: TmuxClient, pane_id: str, pid: int | None) -> int | None:
    """The dead pane's exit status (-N: killed by signal N). tmux 3.3a may not have reaped it yet."""
    fmt = "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}"
    for attempt in range(3):
        try:
            lines = await _call(client.run("display-message", "-p", "-t", pane_id, fmt))
        except TmuxError:
            return None
        dead, status, sig = ((lines[0] if lines else "") + "||").split("|")[:3]
        if status.strip().lstrip("-").isdigit():
            return int(status)
        if sig.strip().isdigit() and int(sig) > 0:
            return -int(sig)
        if attempt == 0:
            try:  # the server reaps every exited child at its next SIGCHLD: make it fork something
                await _call(client.run("run-shell", "true"))
            except TmuxError:
                pass
        await asyncio.sleep(0.05)
    if pid:  # last resort: the zombie's exit code, field 52 of /proc/PID/stat
        code = await asyncio.to_thread(ProcessReader().exit_status, pid)
        if code is not None:
            return -(code & 0x7F) if code & 0x7F else (code >> 8) & 0xFF
    return None


async def _final_screen(client: TmuxClient, pane_id: str, last: str, *, settle_s: float = 0.15,
                        limit_s: float = 1.0) -> str:
    """A dead pane's screen once it stops changing: tmux may mark the pane dead before it has drained
    the child's last output from the pty (seen under load), so capture until two captures agree."""
    deadline = time.monotonic() + limit_s
    previous: str | None = None
    screen = last
    while True:
        screen = normalize_screen(await _call(client.capture(pane_id, history=HISTORY_LINES)) or screen)
        if screen == previous or time.monotonic() >= deadline:
            return screen
        previous = screen
        await asyncio.sleep(settle_s)




def _kill_candidate_sync(sid: int | None, start: int | None) -> None:
    """Whatever outlived the server's SIGHUP in the pane's session (tmux made the pane's process a
    session leader): ``stop_verified``, each process named by pid + start time as found in the session."""
    if not sid or start is None:
        return
    reader = ProcessReader()

    def members() -> list[Proc]:
        return [p for p in reader.scan_all() if p.session == sid and not p.zombie]

    found = members()
    if found:
        stop_verified_sync(found, wait_s=1.0, kill_wait_s=1.0, reader=reader, members=members)


def _remove_home(temp_home: str | None) -> None:
    if temp_home:
        shutil.rmtree(temp_home, ignore_errors=True)


async def _teardown(client: TmuxClient, env: Mapping[str, str], pid: int | None, start: int | None,
                    temp_home: str | None) -> None:
    """Everything the boot made goes, even when cancelled again in here (then synchronously): the
    private server (verified gone, its socket file with it), the candidate's session, the temp HOME."""
    try:
        try:
            await asyncio.wait_for(client.kill_server(), TEARDOWN_S)
        except (TmuxError, asyncio.TimeoutError, OSError):
            await asyncio.to_thread(kill_server_sync, client.server_args, tmux_bin=client.tmux_bin, env=env,
                                    timeout_s=TEARDOWN_S)
        await asyncio.to_thread(_kill_candidate_sync, pid, start)
        await asyncio.to_thread(_remove_home, temp_home)
    except BaseException:
        kill_server_sync(client.server_args, tmux_bin=client.tmux_bin, env=env, timeout_s=TEARDOWN_S)
        _kill_candidate_sync(pid, start)
        _remove_home(temp_home)
        raise


@dataclass
class _Seen:
    """The candidate's last screen and whether its pane died, as the boot watch saw them (kept on an error)."""
    screen: str = ""
    dead: bool = False


async def _watch_boot(client: TmuxClient, pane_id: str, doctor: DoctorConfig, progress: Progress | None,
                      t0: float, seen: _Seen, *, poll_s: float, settle_s: float
                      ) -> tuple[str, bool, tuple[PatternHit, ...], bool]:
    """Watch the candidate's screen until it dies, boot_s passes, or settle_s after it was ready or failed."""
    boot_s = doctor.boot_s
    ready_at: float | None = None
    failed_at: float | None = None
    while True:
        elapsed = time.monotonic() - t0
        info = await _call(client.pane(pane_id))
        dead = seen.dead = info is None or info.dead
        screen = seen.screen = normalize_screen(await _call(client.capture(pane_id, history=HISTORY_LINES)) or "")
        hits, ready = judge_screen(screen, fail_patterns=doctor.fail_patterns, ready_pattern=doctor.ready_pattern)
        if ready and ready_at is None:
            ready_at = elapsed
            await _emit(progress, DoctorProgress("ready", elapsed, boot_s, "ready pattern on screen",
                                                 _tail_lines(screen), not dead, True))
        if hits and failed_at is None:
            failed_at = elapsed  # failed: watch a moment more for its last words and its exit status
        if (dead or elapsed >= boot_s or (failed_at is not None and elapsed - failed_at >= settle_s)
                or (ready_at is not None and elapsed - ready_at >= settle_s)):
            return screen, dead, hits, ready
        await _emit(progress, DoctorProgress("booting", elapsed, boot_s, f"{elapsed:.0f}s of {boot_s:g}s",
                                             _tail_lines(screen), True, ready))
        await asyncio.sleep(min(poll_s, max(0.0, boot_s - elapsed)) or poll_s)


async def check_candidate(
    candidate: str | os.PathLike[str], doctor: DoctorConfig, *, env: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None, cwd: str | os.PathLike[str] | None = None,
    progress: Progress | None = None, tmux_bin: str = "tmux", clock: Callable[[], float] = time.time,
    poll_s: float = POLL_S, settle_s: float = SETTLE_S,
) -> DoctorResult:
    """Boot ``candidate`` with ``doctor.args`` in a throwaway pane on a private tmux server and judge it.

    ``home``: None for a fresh temp HOME (Claude/Codex/XDG dirs inside it); a path to boot with
    that HOME and the environment's own dirs. ``env``: extra variables, applied last (an agent's
    env, a seeded CLAUDE_CONFIG_DIR...). Raises DoctorInputError for a bad candidate; never leaves
    a tmux server, socket file, temp HOME or candidate process behind.
    """
    path = validate_candidate(candidate)
    argv = (path, *doctor.args)
    boot_s = doctor.boot_s
    temp_home = await asyncio.to_thread(tempfile.mkdtemp, prefix="cockpit-doctor-home-") if home is None else None
    home_dir = temp_home or os.path.abspath(os.path.expanduser(os.fspath(home)))  # type: ignore[arg-type]
    full_env, overrides = boot_env(home_dir, isolated=temp_home is not None, extra=env)
    socket = f"cockpit-doctor-{secrets.token_hex(4)}"
    client = TmuxClient(("-L", socket, "-f", "/dev/null"), tmux_bin=tmux_bin, env=full_env)
    started_at = clock()
    t0 = time.monotonic()
    pid: int | None = None
    start: int | None = None
    seen = _Seen()
    try:
        await _emit(progress, DoctorProgress("starting", 0.0, boot_s, f"booting {shlex.join(argv)} on tmux -L {socket}"))
        await _call(client.connect(start_server=True))
        await _call(client.run("set-option", "-g", "history-limit", str(HISTORY_LINES)))
        pane = await _call(client.spawn_window(SESSION, "candidate", ("/bin/sh", "-c", LINGER, *argv),
                                               cwd=os.fspath(cwd) if cwd is not None else home_dir, env=overrides))
        pid = pane.pid
        start = await asyncio.to_thread(proc_start_ticks, pid) if pid else None
        pane_id = pane.pane_id
        screen, dead, hits, ready = await _watch_boot(client, pane_id, doctor, progress, t0, seen,
                                                      poll_s=poll_s, settle_s=settle_s)
        exit_status = await _dead_status(client, pane_id, pid) if dead else None
        if dead:  # the last words: what it printed before dying, and tmux's "Pane is dead" line
            screen = await _final_screen(client, pane_id, screen)
            hits, ready = judge_screen(screen, fail_patterns=doctor.fail_patterns, ready_pattern=doctor.ready_pattern)
        elapsed = time.monotonic() - t0
        passed, reason, summary, problems = _verdict(
            hits=hits, dead=dead, exit_status=exit_status, ready=ready, ready_pattern=doctor.ready_pattern,
            elapsed=elapsed, boot_s=boot_s)
    except (TmuxError, asyncio.TimeoutError, OSError) as exc:
        screen, dead = seen.screen, seen.dead
        elapsed = time.monotonic() - t0
        passed, reason, exit_status, hits, ready = False, "error", None, (), False
        summary = f"could not boot it in tmux: {exc}"
        problems = (summary,)
    finally:
        await _teardown(client, full_env, pid, start, temp_home)
    result = DoctorResult(
        candidate=path, argv=argv, passed=passed, reason=reason, summary=summary, screen=screen,
        screen_sha256=hashlib.sha256(screen.encode("utf-8", "replace")).hexdigest(), problems=problems,
        hits=hits, ready=ready if doctor.ready_pattern else None, exit_status=exit_status, elapsed_s=elapsed,
        started_at=started_at, finished_at=clock(), boot_s=boot_s, socket=socket,
        isolated_home=temp_home is not None)
    await _emit(progress, DoctorProgress("verdict", elapsed, boot_s, f"{result.verdict.upper()}: {summary}",
                                         _tail_lines(screen), not dead and reason != "error", bool(ready)))
    return result


# --- evidence and promotion (act) ---------------------------------------------------------------


def keep_evidence(result: DoctorResult, state_dir: str | os.PathLike[str], *, journal: Journal | None = None,
                  actor: str = "doctor") -> DoctorResult:
    """Write the captured screen to STATE/doctor/ and journal the verdict; returns the result with its file.

    Blocking (small writes). An unwritable state dir costs the evidence file, never the verdict.
    """
    screen_file: str | None = None
    try:
        folder = ensure_private_dir(Path(state_dir).expanduser() / "doctor")
        stamp = timefmt.compact(result.finished_at or time.time())
        target = folder / f"{stamp}-{result.screen_sha256[:12]}.screen.txt"
        header = (f"# cockpit doctor {result.verdict.upper()}: {result.summary}\n# argv: {json.dumps(list(result.argv))}\n"
                  f"# sha256 of the screen below: {result.screen_sha256}\n")
        atomic_write(target, header + result.screen + "\n")
        screen_file = str(target)
    except OSError:
        pass
    result = replace(result, screen_file=screen_file)
    if journal is not None:
        try:
            journal.record("action", action="doctor", actor=actor, result=result.verdict,
                           summary=f"doctor {result.verdict.upper()} {result.candidate}: {result.summary}",
                           evidence={"argv": list(result.argv), "reason": result.reason, "problems": list(result.problems),
                                     "hits": [h.to_json() for h in result.hits], "exit_status": result.exit_status,
                                     "elapsed_s": round(result.elapsed_s, 3), "screen_sha256": result.screen_sha256,
                                     "screen_file": screen_file, "screen_tail": result.screen_tail()})
        except (OSError, LockTimeout):
            pass
    return result


def promote_candidate(result: DoctorResult, link: str | os.PathLike[str], state_dir: str | os.PathLike[str], *,
                      journal: Journal | None = None, actor: str = "doctor", read_only: bool = False,
                      clock: Callable[[], float] = time.time) -> Promotion:
    """Repoint ``link`` at the candidate that passed: atomic swap, readlink verified, recorded. Blocking.

    Refuses (PromotionError, LINK untouched) a result that did not pass, or any promotion when
    ``read_only`` (enforced here, below any UI). Raises DoctorInputError for a bad LINK and
    StateDirError for an unusable state dir, both before touching LINK.
    """
    if read_only:
        raise PromotionError(f"promote {os.fspath(link)} refused: this cockpit is read-only")
    if not result.passed:
        raise PromotionError(f"refusing to promote {result.candidate}: the doctor did not pass it ({result.summary})")
    path = validate_link(link, result.candidate)
    state = ensure_private_dir(Path(state_dir).expanduser())
    log = PromotionLog.in_state_dir(state, clock=clock)
    with hold(state / "promote.lock"):
        old = os.readlink(path) if os.path.islink(path) else None
        atomic_symlink(Path(path), result.candidate)
        now_target = os.readlink(path)
        verified = now_target == result.candidate
        at = clock()
        promotion = Promotion(path, old, result.candidate, now_target, verified, at, result.screen_sha256,
                              result.screen_file)
        if not verified:
            if journal is not None:
                journal.record("action", action="promote", actor=actor, result="failed",
                               summary=f"promote {path} did not verify: readlink says {now_target}, not {result.candidate}",
                               before={"target": old}, after={"target": now_target}, evidence=promotion.to_json())
            raise PromotionError(f"{path}: readlink says {now_target!r} after the swap, not {result.candidate!r}")
        log.promoted(link=path, old_target=old, new_target=result.candidate, screen_sha256=result.screen_sha256,
                     screen_file=result.screen_file, actor=actor, verdict=result.reason, readlink=now_target)
        if journal is not None:
            journal.record("action", action="promote", actor=actor, result="verified",
                           summary=(f"promoted {path}: {old or '(new link)'} -> {result.candidate} "
                                    f"(doctor passed: {result.summary}; readlink verified)"),
                           before={"target": old, "version": version_hint(old)},
                           after={"target": now_target, "version": version_hint(result.candidate)},
                           evidence={**promotion.to_json(), "argv": list(result.argv), "reason": result.reason,
                                     "screen_tail": result.screen_tail()})
    return promotion


async def promote_after_pass(result: DoctorResult, link: str | os.PathLike[str], config: Config, *,
                             actor: str = "tui", read_only: bool = False) -> DoctorResult:
    """``promote_candidate`` off the loop, journalled in the config's journal; the result with its promotion.

    Every way it can fail (refused, the link unusable, the promote lock held by another cockpit)
    is a PromotionError carrying the result, so a caller (the TUI's worker) has one thing to catch.
    """
    try:
        promotion = await asyncio.to_thread(promote_candidate, result, link, config.state.dir,
                                            journal=Journal(config.state.journal), actor=actor, read_only=read_only)
    except (PromotionError, OSError, LockTimeout) as exc:
        err = PromotionError(str(exc) if isinstance(exc, PromotionError) else f"{link}: promotion failed: {exc}")
        err.result = result  # type: ignore[attr-defined]
        raise err from None
    return replace(result, promotion=promotion)


async def run_doctor(candidate: str | os.PathLike[str], config: Config, *, promote: str | os.PathLike[str] | None = None,
                     progress: Progress | None = None, env: Mapping[str, str] | None = None,
                     home: str | os.PathLike[str] | None = None, cwd: str | os.PathLike[str] | None = None,
                     read_only: bool = False, actor: str = "doctor", tmux_bin: str = "tmux") -> DoctorResult:
    """The whole doctor: validate, boot and judge, keep the evidence, promote after a pass.

    Input errors (bad candidate, bad link, ``--promote`` in read-only mode) raise DoctorInputError
    before anything boots. A failed promotion raises PromotionError (the result is on ``.result``).
    """
    path = validate_candidate(candidate)
    link = validate_link(promote, path) if promote is not None else None
    if link is not None and read_only:
        raise DoctorInputError("--promote refused: this cockpit is read-only")
    result = await check_candidate(path, config.doctor, env=env, home=home, cwd=cwd, progress=progress,
                                   tmux_bin=tmux_bin)
    if not read_only:
        journal = Journal(config.state.journal)
        result = await asyncio.to_thread(keep_evidence, result, config.state.dir, journal=journal, actor=actor)
    if link is None or not result.passed:
        return result
    await _emit(progress, DoctorProgress("promoting", result.elapsed_s, result.boot_s, f"repointing {link}"))
    result = await promote_after_pass(result, link, config, actor=actor)
    promotion = result.promotion
    assert promotion is not None
    await _emit(progress, DoctorProgress("promoted", result.elapsed_s, result.boot_s,
                                         f"{link} -> {promotion.readlink} (verified)"))
    return result


# --- picking a CLI and a candidate (the TUI) ----------------------------------------------------


def cli_of_agent(agent: AgentConfig, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Where an agent's CLI is: the link on its PATH, the symlink chain, the resolved target, its version."""
    env = os.environ if environ is None else environ
    found = resolve_command(agent.command[0] if agent.command else "", agent.env.get("PATH", env.get("PATH")), agent.cwd)
    chain = link_chain(found) if found else ()
    resolved = os.path.realpath(found) if found else None
    return {"agent": agent.name, "command": agent.command[0] if agent.command else None, "link": found,
            "chain": list(chain), "resolved": resolved, "version": version_hint(resolved),
            "promote_link": chain[-2] if len(chain) >= 2 else found}


def nearby_candidates(target: str | None, limit: int = 20) -> list[str]:
    """Executables next to ``target`` (``versions/*``), newest version first: what a doctor may test."""
    if not target:
        return []
    folder = os.path.dirname(target)
    try:
        names = os.listdir(folder)
    except OSError:
        return []

    def key(name: str) -> tuple[Any, ...]:
        found = version_hint(name)
        return tuple(int(p) for p in re.findall(r"\d+", found)[:3]) if found else (-1,)

    out = [os.path.join(folder, n) for n in names
           if os.path.isfile(os.path.join(folder, n)) and os.access(os.path.join(folder, n), os.X_OK)]
    return sorted(out, key=lambda p: key(os.path.basename(p)), reverse=True)[:limit]


# --- command line -------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("candidate", metavar="CANDIDATE", help="the CLI executable to test (e.g. .../versions/2.1.198)")
    parser.add_argument("--promote", metavar="LINK", help="after a pass, repoint this symlink at CANDIDATE "
                        "(atomically, verified with readlink, recorded in STATE/promotions.jsonl)")
    parser.add_argument("--home", metavar="DIR", help="boot with this HOME (and the environment's own Claude/"
                        "Codex/XDG dirs) instead of a fresh temp HOME")
    parser.add_argument("--cwd", metavar="DIR", help="the candidate's working directory (default: its HOME)")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON (progress still on stderr)")


class _Dots:
    """The CLI's progress: one line to stderr, then a dot a second, then the verdict's end of line."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.dots = 0

    def __call__(self, event: DoctorProgress) -> None:
        if event.phase == "starting":
            self.stream.write(f"cockpit doctor: {event.message} (up to {event.boot_s:g}s) ")
        elif event.phase in ("booting", "ready"):
            while self.dots < int(event.elapsed_s):
                self.stream.write(".")
                self.dots += 1
            if event.phase == "ready":
                self.stream.write(" ready ")
        elif event.phase == "verdict":
            self.stream.write(f" {event.elapsed_s:.1f}s\n")
        self.stream.flush()


def render(result: DoctorResult, link: str | None) -> str:
    lines = [f"{result.verdict.upper()} {result.candidate}: {result.summary}"]
    lines += [f"  also: {p}" for p in result.problems[1:]]
    if result.passed:
        if result.promotion is not None:
            p = result.promotion
            lines.append(f"promoted {p.link}: {p.old_target or '(new link)'} -> {p.new_target} (readlink verified)")
        lines.append(f"screen sha256 {result.screen_sha256}" + (f", kept in {result.screen_file}" if result.screen_file else ""))
        return "\n".join(lines)
    lines.append(f"--- captured screen (sha256 {result.screen_sha256[:16]}) ---")
    lines.append(result.screen)
    lines.append("--- end of screen ---")
    if link is not None:
        current = os.readlink(link) if os.path.islink(link) else None
        lines.append(f"{link} untouched" + (f" (still -> {current})" if current else ""))
    return "\n".join(lines)


def run_args(args: argparse.Namespace, config: Config, *, read_only: bool = False,
             stdout: Any = None, stderr: Any = None) -> int:
    """``cockpit doctor``: exit 0 pass (and promoted), 1 fail or promotion failed, 2 bad input."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    link = os.path.abspath(os.path.expanduser(args.promote)) if getattr(args, "promote", None) else None

    terminated: list[bool] = []

    async def main() -> DoctorResult:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()

        def on_term() -> None:
            terminated.append(True)
            task.cancel()  # type: ignore[union-attr]

        try:  # SIGTERM tears the throwaway world down like Ctrl-C does
            loop.add_signal_handler(signal.SIGTERM, on_term)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        return await run_doctor(args.candidate, config, promote=args.promote, progress=_Dots(err),
                                home=getattr(args, "home", None), cwd=getattr(args, "cwd", None),
                                read_only=read_only, actor="cli")

    try:
        result = asyncio.run(main())
    except DoctorInputError as exc:
        print(f"cockpit doctor: {exc}", file=err)
        return 2
    except PromotionError as exc:
        result = getattr(exc, "result", None)
        if getattr(args, "json", False) and result is not None:
            print(json.dumps({**result.to_json(), "promotion_error": str(exc)}, indent=2), file=out)
        print(f"cockpit doctor: promotion failed: {exc}", file=err)
        return 1
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("\ncockpit doctor: stopped; the throwaway pane and its tmux server are gone", file=err)
        return 143 if terminated else 130
    if getattr(args, "json", False):
        print(json.dumps(result.to_json(), indent=2), file=out)
    else:
        print(render(result, link), file=out)
    return 0 if result.passed else 1

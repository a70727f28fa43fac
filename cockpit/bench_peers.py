"""The peers of ``cockpit bench`` (SPEC §5): supervisord and pm2 on the same children.

Each peer supervises the same child program as the cockpit's fleet (``sleep 2147483647``), N of
them, with the same kill and the same idle window:

- idle cost: CPU of the peer's daemon process (user + system) per second of steady state;
- kill -9 of a child that ran for longer than its startsecs → the new child alive (the daemon's
  new child pid seen in the process table) and → verified (supervisord: RUNNING again after
  ``startsecs``; pm2: ``online`` again);
- cold start: from the daemon's launch to every child RUNNING.

supervisord comes with the ``bench`` extra (``pip install cockpit[bench]``); pm2 is used when on
PATH. A peer that is not installed is reported as such, never an error. Every daemon started here
is stopped at the end (its children with it) and its files removed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path
from typing import Any, Callable

import psutil

__all__ = ["CHILD", "measure_pm2", "measure_supervisord", "poll_until"]

CHILD = ("sleep", "2147483647")
POLL_S = 0.002


def poll_until(predicate: Callable[[], Any], timeout_s: float, interval_s: float = POLL_S) -> tuple[Any, float]:
    """(value, monotonic time it became true) or (None, deadline) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        now = time.monotonic()
        if value or now >= deadline:
            return value, now
        time.sleep(interval_s)


def _cpu_s(proc: psutil.Process) -> float:
    """The process's CPU time, all threads, in ns precision from /proc/PID/task/*/schedstat (clock
    ticks of 10 ms would read an idle daemon as 0); psutil's cpu_times where schedstat is missing."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            with open(f"/proc/{proc.pid}/task/{tid}/schedstat", "rb") as fh:
                total += int(fh.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        times = proc.cpu_times()
        return times.user + times.system


def idle_cost(proc: psutil.Process, seconds: float) -> float:
    """The daemon's CPU over ``seconds`` of steady state, as % of one core."""
    c0, w0 = _cpu_s(proc), time.monotonic()
    time.sleep(seconds)
    return (_cpu_s(proc) - c0) / (time.monotonic() - w0) * 100.0


def _new_child(daemon: psutil.Process, known: set[int]) -> Callable[[], int | None]:
    def check() -> int | None:
        try:
            for child in daemon.children():
                if child.pid not in known:
                    return child.pid
        except psutil.Error:
            return None
        return None
    return check


# --- supervisord -------------------------------------------------------------------------------------


def _supervisord_conf(root: Path, n: int) -> Path:
    sock = root / "supervisor.sock"
    conf = root / "supervisord.conf"
    conf.write_text("\n".join([
        "[unix_http_server]", f"file={sock}", "chmod=0700", "",
        "[supervisord]", "nodaemon=true", f"logfile={root / 'supervisord.log'}", f"pidfile={root / 'supervisord.pid'}",
        f"childlogdir={root}", "loglevel=warn", "",
        "[rpcinterface:supervisor]", "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{sock}", "",
        "[program:child]", f"command={' '.join(CHILD)}", f"numprocs={n}", "process_name=%(program_name)s_%(process_num)03d",
        "autostart=true", "autorestart=true", "startsecs=1", "startretries=3", "stdout_logfile=NONE",
        "stderr_logfile=NONE", "",
    ]))
    return conf


def _rpc(root: Path) -> Callable[..., Any]:
    """Call a supervisord XML-RPC method; a fresh connection each time (a failed one stays broken)."""
    from supervisor.xmlrpc import SupervisorTransport

    def call(method: str, *args: Any) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{root / 'supervisor.sock'}")
        proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        try:
            return getattr(proxy.supervisor, method)(*args)
        except Exception:  # noqa: BLE001 - not up yet, or going away: the poll decides
            return None
    return call


def measure_supervisord(n: int, *, idle_s: float, log: Callable[[str], Any] = lambda _m: None) -> dict[str, Any]:
    """supervisord on ``n`` children: cold start, idle cost, kill -9 → exit seen, new child, RUNNING again."""
    try:
        import supervisor  # noqa: F401
        from supervisor import xmlrpc as _  # noqa: F401
    except ImportError:
        return {"peer": "supervisord", "installed": False, "why": "not installed (pip install 'cockpit[bench]')"}
    root = Path(tempfile.mkdtemp(prefix="cockpit-bench-supervisord-"))
    conf = _supervisord_conf(root, n)
    started = time.monotonic()
    daemon_popen = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    out: dict[str, Any] = {"peer": "supervisord", "installed": True, "agents": n}
    try:
        import supervisor as sv
        out["version"] = getattr(sv, "__version__", None) or _dist_version("supervisor")
        rpc = _rpc(root)

        def all_running() -> bool:
            infos = rpc("getAllProcessInfo") or []
            return len(infos) == n and all(i["statename"] == "RUNNING" for i in infos)

        log(f"supervisord: {n} children starting...")
        ok, at = poll_until(all_running, 120.0, 0.05)
        out["cold_start_s"] = round(at - started, 3) if ok else None
        daemon = psutil.Process(daemon_popen.pid)
        time.sleep(2.0)
        log(f"supervisord: idle {idle_s:g}s...")
        out["idle_pct"] = round(idle_cost(daemon, idle_s), 4)
        state = lambda: (rpc("getProcessInfo", "child:child_000") or {}).get("statename")  # noqa: E731
        info = rpc("getProcessInfo", "child:child_000")
        known = {c.pid for c in daemon.children()}
        killed = time.monotonic()
        os.kill(info["pid"], signal.SIGKILL)
        _, exit_at = poll_until(lambda: state() not in (None, "RUNNING"), 10.0)
        pid, alive_at = poll_until(_new_child(daemon, known), 10.0)
        _, verified_at = poll_until(lambda: state() == "RUNNING", 15.0, 0.01)
        out.update(kill_exit_ms=round((exit_at - killed) * 1000, 1),
                   kill_alive_ms=round((alive_at - killed) * 1000, 1) if pid else None,
                   kill_verified_ms=round((verified_at - killed) * 1000, 1))
    finally:
        _stop(daemon_popen)
        shutil.rmtree(root, ignore_errors=True)
    return out


def _dist_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001 - a version is a nicety
        return None


def _stop(popen: subprocess.Popen[bytes]) -> None:
    """TERM the daemon (it stops its children), KILL its whole session after 10 s."""
    try:
        popen.terminate()
        popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        popen.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


# --- pm2 ----------------------------------------------------------------------------------------------


def measure_pm2(n: int, *, idle_s: float, log: Callable[[str], Any] = lambda _m: None) -> dict[str, Any]:
    """pm2 (when on PATH) on ``n`` children, in a private PM2_HOME: the same figures as supervisord's."""
    pm2 = shutil.which("pm2")
    if pm2 is None:
        return {"peer": "pm2", "installed": False, "why": "pm2 not on PATH"}
    root = Path(tempfile.mkdtemp(prefix="cockpit-bench-pm2-"))
    env = {**os.environ, "PM2_HOME": str(root / "home")}
    eco = root / "ecosystem.config.js"
    apps = [{"name": f"child_{i:03d}", "script": CHILD[0], "args": list(CHILD[1:]), "interpreter": "none",
             "autorestart": True, "min_uptime": 1000, "max_restarts": 16, "restart_delay": 0}
            for i in range(n)]
    eco.write_text("module.exports = " + json.dumps({"apps": apps}) + ";\n")

    def run(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([pm2, *args], env=env, capture_output=True, text=True, timeout=timeout)

    out: dict[str, Any] = {"peer": "pm2", "installed": True, "agents": n}
    try:
        out["version"] = run("--version").stdout.strip().splitlines()[-1:] or None
        started = time.monotonic()
        log(f"pm2: {n} children starting...")
        run("start", str(eco))

        def procs() -> list[dict[str, Any]]:
            try:
                return json.loads(run("jlist", timeout=30).stdout or "[]")
            except (ValueError, subprocess.SubprocessError):
                return []

        ok, at = poll_until(lambda: (lambda ps: len(ps) == n and all(p["pm2_env"]["status"] == "online" and p["pid"]
                                                                       for p in ps))(procs()), 120.0, 0.2)
        out["cold_start_s"] = round(at - started, 3) if ok else None
        daemon_pid = int((root / "home" / "pm2.pid").read_text().strip())
        daemon = psutil.Process(daemon_pid)
        time.sleep(2.0)
        log(f"pm2: idle {idle_s:g}s...")
        out["idle_pct"] = round(idle_cost(daemon, idle_s), 4)
        victim = next(p for p in procs() if p["name"] == "child_000")["pid"]
        known = {c.pid for c in daemon.children()}
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        pid, alive_at = poll_until(_new_child(daemon, known), 10.0)
        out.update(kill_exit_ms=None, kill_alive_ms=round((alive_at - killed) * 1000, 1) if pid else None)
        time.sleep(1.2)
        out["kill_verified_ms"] = None  # pm2 says online at once; min_uptime only counts unstable restarts
    except (OSError, subprocess.SubprocessError, StopIteration, ValueError, psutil.Error) as exc:
        out["error"] = str(exc)
    finally:
        try:
            run("kill", timeout=60)
        except (OSError, subprocess.SubprocessError):
            pass
        shutil.rmtree(root, ignore_errors=True)
    return out

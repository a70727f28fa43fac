"""The soak (SPEC §6): 20 simulated agents for N minutes under random faults, then the figures.

    python tests/soak/soak.py --minutes 30            # the full soak
    python tests/soak/soak.py --minutes 3 --json      # CI's short one

A throw-away world: a private tmux server, the state dir on a small tmpfs (root only; otherwise
said so and the disk-full fault is left out), 20 ``cockpit-sim`` agents under one
``cockpit supervise`` (restarted like systemd would when it dies or is killed), sub-agents run
through ``cockpit wrap``. Faults, at random (seeded): kill -9 of an agent, kill -9 of a wrapper,
the tmux server killed, the cockpit killed (and restarted), the state disk filled for a while.
A probe process appends rows to the registry throughout (as a gateway helper would).

At the end it checks and prints: registry rows lost (rows once read, or appended by the probe,
missing at the end), torn or bad lines in the state files, every fault reported within its
deadline, agents left down that should run, processes or tmux servers leaked. Exit 0 only when
all are zero.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from cockpit.registry import Journal, Registry  # noqa: E402
from cockpit.reminders import ReminderStore  # noqa: E402

SIM = [sys.executable, "-m", "cockpit.sim"]
COCKPIT = [sys.executable, "-m", "cockpit"]
TMPFS_BYTES = 24 << 20
FAULT_EVERY_S = (3.0, 9.0)
DEADLINE_S = {"kill_agent": 20.0, "kill_wrapper": 30.0, "kill_tmux": 45.0, "kill_cockpit": 15.0, "disk_full": 20.0}
FULL_FOR_S = (4.0, 10.0)


def log(*parts: Any) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


@dataclass
class Fault:
    kind: str
    at: float
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    reported_at: float | None = None
    deadline_s: float = 0.0
    excused_s: float = 0.0  # time the cockpit was down (killed on purpose) while the fault waited

    def to_json(self) -> dict[str, Any]:
        late = None if self.reported_at is None else round(self.reported_at - self.at, 2)
        return {"kind": self.kind, "target": self.target, "at": round(self.at, 2), "reported_after_s": late,
                "deadline_s": self.deadline_s + round(self.excused_s, 1), **self.detail}


class World:
    def __init__(self, agents: int, seed: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="cockpit-soak-"))
        self.socket = f"cockpit-soak-{secrets.token_hex(3)}"
        self.state = self.root / "state"
        self.state.mkdir(mode=0o700)
        self.work = self.root / "work"
        self.work.mkdir()
        self.agents = [f"agent{n:02d}" for n in range(agents)]
        self.rng = random.Random(seed)
        self.tmpfs = self._mount()
        self.config = self.root / "cockpit.toml"
        self.config.write_text(self._toml())
        self.env = {**os.environ, "HOME": str(self.root), "CLAUDE_CONFIG_DIR": str(self.root / "claude"),
                    "CODEX_HOME": str(self.root / "codex"), "XDG_CONFIG_HOME": str(self.root / "xdg"),
                    "PYTHONPATH": str(REPO)}
        self.env.pop("TMUX", None)
        self.cockpit: subprocess.Popen[bytes] | None = None
        self.cockpit_starts = 0
        self.cockpit_down_since: float | None = None
        self.cockpit_down_total = 0.0
        self.wrappers: list[subprocess.Popen[bytes]] = []
        self.filler: Path | None = None

    # --- world ---------------------------------------------------------------------------------

    def _mount(self) -> str | None:
        """The state dir on a small tmpfs, so it can really fill up; None when we may not mount."""
        if os.geteuid() != 0:
            return "not root: the disk-full fault is left out"
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0700", "tmpfs", str(self.state)],
                              capture_output=True, text=True)
        return None if done.returncode == 0 else f"mount failed ({done.stderr.strip()}): the disk-full fault is left out"

    def _toml(self) -> str:
        lines = ["[tmux]", f'socket = "{self.socket}"', 'session = "agents"', "",
                 "[state]", f'dir = "{self.state}"', "",
                 "[claude]", f'config_dir = "{self.root / "claude"}"', "",
                 "[supervisor]", "tick_s = 0.5", "spawn_verify_s = 3.0", "min_uptime_s = 0.5", "max_restarts = 100000",
                 "restart_window_s = 60.0", "backoff_max_s = 2.0", "max_actions_per_minute = 600",
                 "zombie_grace_s = 5.0", "stop_wait_s = 2.0", "",
                 "[[wrappers]]", 'match = "cockpit[.]sim -p"', ""]
        for name in self.agents:
            lines += ["[[agents]]", f'name = "{name}"', f'cwd = "{self.work}"',
                      "command = " + json.dumps([*SIM, "--chat-every-s", "5"]), 'restart = "always"', ""]
        return "\n".join(lines) + "\n"

    def start_cockpit(self) -> None:
        out = open(self.root / "supervise.log", "ab")
        self.cockpit = subprocess.Popen([*COCKPIT, "supervise", "--config", str(self.config)], env=self.env,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.cockpit_starts += 1
        if self.cockpit_down_since is not None:
            self.cockpit_down_total += time.time() - self.cockpit_down_since
            self.cockpit_down_since = None

    def cockpit_alive(self) -> bool:
        return self.cockpit is not None and self.cockpit.poll() is None

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=self.env)

    def agent_pids(self) -> dict[str, int]:
        done = self.tmux("list-panes", "-a", "-F", "#{@cockpit_agent}\t#{pane_pid}\t#{pane_dead}")
        out: dict[str, int] = {}
        for line in done.stdout.splitlines():
            name, pid, dead = (line.split("\t") + ["", "", ""])[:3]
            if name in self.agents and dead != "1" and pid.isdigit():
                out[name] = int(pid)
        return out

    def spawn_wrapper(self) -> None:
        agent = self.rng.choice(self.agents)
        argv = [*COCKPIT, "wrap", "--config", str(self.config), "--agent", agent, "--ack-timeout", "3", "--",
                *SIM, "-p", "--output-format", "stream-json", "--reply-delay-s", str(self.rng.uniform(0.5, 4)),
                "--linger-s", str(self.rng.choice([0, 1, 8])), "soak task"]
        self.wrappers.append(subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True))

    def teardown(self) -> list[str]:
        """Stop everything we started; return what was still alive that should not be (leaks)."""
        leaks: list[str] = []
        if self.cockpit_alive():
            assert self.cockpit is not None
            self.cockpit.send_signal(signal.SIGTERM)
            try:
                self.cockpit.wait(timeout=20)
            except subprocess.TimeoutExpired:
                leaks.append(f"cockpit supervise pid {self.cockpit.pid} ignored SIGTERM for 20 s")
                os.killpg(self.cockpit.pid, signal.SIGKILL)
        for proc in self.wrappers:
            if proc.poll() is None:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    leaks.append(f"cockpit wrap pid {proc.pid} still running 30 s after the soak")
                    os.killpg(proc.pid, signal.SIGKILL)
        self.tmux("kill-server")
        if self.filler is not None:
            self.filler.unlink(missing_ok=True)
        return leaks

    def unmount(self) -> None:
        if self.tmpfs is None:
            subprocess.run(["umount", "-l", str(self.state)], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


# --- what the disk says --------------------------------------------------------------------------------


def row_key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


class Ledger:
    """Every registry row ever seen (or appended by the probe): none may vanish before the end."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.registry = Registry(world.state / "registry.jsonl")
        self.seen: set[str] = set()
        self.probe_rows: list[str] = []
        self.probe_refused = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            rows = self.registry.read_all().rows
        except OSError:
            return []
        for row in rows:
            self.seen.add(row_key(row))
        return rows

    def probe(self) -> None:
        """A helper's append (under the registry's lock): a row for an agent the fleet does not have."""
        try:
            row = self.registry.event("repointed", agent="soak-probe", session_id=secrets.token_hex(4))
            self.probe_rows.append(row_key(row))
        except OSError:
            self.probe_refused += 1  # the disk is full: refused, never half-written

    def lost(self) -> list[str]:
        now = {row_key(r) for r in self.registry.read_all().rows}
        return sorted((self.seen | set(self.probe_rows)) - now)


def bad_reasons(world: World) -> dict[str, Any]:
    out = {}
    for name, store in (("registry", Registry), ("journal", Journal), ("reminders", ReminderStore)):
        path = world.state / f"{name}.jsonl"
        if path.exists():
            out[name] = dict(store(path).read_all().bad.counts)
    return out


def bad_lines(world: World) -> dict[str, int]:
    out = {}
    for name, store in (("registry", Registry), ("journal", Journal), ("reminders", ReminderStore)):
        path = world.state / f"{name}.jsonl"
        if path.exists():
            out[name] = store(path).read_all().bad_lines
    return out


# --- the faults ---------------------------------------------------------------------------------------------


class Soak:
    def __init__(self, world: World, minutes: float) -> None:
        self.world = world
        self.ledger = Ledger(world)
        self.minutes = minutes
        self.faults: list[Fault] = []
        self.open: list[Fault] = []
        self.full_until: float | None = None

    def run(self) -> None:
        w = self.world
        w.start_cockpit()
        self._wait_fleet_up(120.0)
        end = time.time() + self.minutes * 60.0
        next_fault = time.time() + w.rng.uniform(*FAULT_EVERY_S)
        next_wrapper = time.time()
        while time.time() < end:
            now = time.time()
            if not w.cockpit_alive():  # what systemd does (Restart=on-failure), and what kill_cockpit expects
                log("cockpit not running: restarting it")
                if w.cockpit_down_since is None:
                    w.cockpit_down_since = now
                w.start_cockpit()
            if self.full_until is not None and now >= self.full_until:
                self._free_disk()
            if now >= next_wrapper:
                w.spawn_wrapper()
                w.wrappers = [p for p in w.wrappers if p.poll() is None or p in w.wrappers[-40:]]
                next_wrapper = now + w.rng.uniform(2.0, 6.0)
            if now >= next_fault:
                self._inject()
                next_fault = now + w.rng.uniform(*FAULT_EVERY_S)
            self.ledger.probe()
            self.ledger.read()
            self._settle()
            time.sleep(0.5)
        if self.full_until is not None:
            self._free_disk()
        quiet_end = time.time() + 60.0  # the last faults get their deadline; the fleet settles
        while time.time() < quiet_end and (self.open or self._down()):
            if not w.cockpit_alive():
                w.start_cockpit()
            self.ledger.read()
            self._settle()
            time.sleep(0.5)

    def _wait_fleet_up(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.world.agent_pids()) == len(self.world.agents):
                return
            time.sleep(0.5)
        raise SystemExit(f"soak: the fleet never came up in {timeout:g}s (see {self.world.root}/supervise.log)")

    def _inject(self) -> None:
        w = self.world
        kinds = ["kill_agent"] * 5 + ["kill_wrapper"] * 2 + ["kill_tmux", "kill_cockpit"]
        if w.tmpfs is None and self.full_until is None:
            kinds.append("disk_full")
        kind = w.rng.choice(kinds)
        getattr(self, f"_{kind}")()

    def _fault(self, kind: str, target: str = "", **detail: Any) -> Fault:
        fault = Fault(kind, time.time(), target, detail, deadline_s=DEADLINE_S[kind])
        self.faults.append(fault)
        self.open.append(fault)
        log("fault", kind, target, detail)
        return fault

    def _kill_agent(self) -> None:
        pids = self.world.agent_pids()
        if not pids:
            return
        name = self.world.rng.choice(sorted(pids))
        try:
            os.kill(pids[name], signal.SIGKILL)
        except ProcessLookupError:
            return
        self._fault("kill_agent", name, pid=pids[name])

    def _kill_wrapper(self) -> None:
        alive = [p for p in self.world.wrappers if p.poll() is None]
        if not alive:
            return
        proc = self.world.rng.choice(alive)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        self._fault("kill_wrapper", f"wrap pid {proc.pid}", pid=proc.pid, pgid=proc.pid)

    def _kill_tmux(self) -> None:
        self.world.tmux("kill-server")
        self._fault("kill_tmux", "tmux server", agents=len(self.world.agents))

    def _kill_cockpit(self) -> None:
        w = self.world
        if not w.cockpit_alive():
            return
        assert w.cockpit is not None
        os.killpg(w.cockpit.pid, signal.SIGKILL)
        w.cockpit.wait()
        w.cockpit_down_since = time.time()
        down_s = w.rng.uniform(0.5, 4.0)
        time.sleep(down_s)
        fault = self._fault("kill_cockpit", "cockpit supervise", down_s=round(down_s, 1))
        fault.at -= down_s
        w.start_cockpit()

    def _disk_full(self) -> None:
        w = self.world
        w.filler = w.state / ".soak-filler"
        with open(w.filler, "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * (1 << 20))
            except OSError:
                pass
        self.full_until = time.time() + w.rng.uniform(*FULL_FOR_S)
        self._fault("disk_full", str(w.state))

    def _free_disk(self) -> None:
        if self.world.filler is not None:
            self.world.filler.unlink(missing_ok=True)
        self.full_until = None
        log("disk freed")

    # --- deadlines ----------------------------------------------------------------------------------

    def _settle(self) -> None:
        rows = self.ledger.read()
        pids = self.world.agent_pids()
        now = time.time()
        for fault in list(self.open):
            if self._reported(fault, rows, pids):
                fault.reported_at = now
                self.open.remove(fault)

    def _reported(self, fault: Fault, rows: list[dict[str, Any]], pids: dict[str, int]) -> bool:
        after = [r for r in rows if _ts(r) >= fault.at - 0.5]
        if fault.kind == "kill_agent":  # the exit recorded, and a new verified child
            exited = any(r.get("event") == "exit" and r.get("agent") == fault.target and r.get("pid") == fault.detail["pid"]
                         for r in rows)
            return exited and fault.target in pids and pids[fault.target] != fault.detail["pid"]
        if fault.kind == "kill_tmux":  # every agent respawned into a new server
            return len(pids) == len(self.world.agents) and all(
                any(r.get("event") == "spawned" and r.get("agent") == name for r in after) for name in self.world.agents)
        if fault.kind == "kill_cockpit":
            started = [r for r in self._journal() if _ts(r) >= fault.at and "supervisor started" in str(r.get("summary"))]
            return bool(started)
        if fault.kind == "kill_wrapper":  # the wrapped sub-agent does not outlive its wrapper for long
            return not _group_alive(fault.detail["pgid"])
        if fault.kind == "disk_full":
            return self._disk_full_reported(fault)
        return False

    def _journal(self) -> list[dict[str, Any]]:
        try:
            return Journal(self.world.state / "journal.jsonl").read_all().rows
        except OSError:
            return []

    def _disk_full_reported(self, fault: Fault) -> bool:
        log_text = (self.world.root / "supervise.log").read_text(errors="replace")
        return "state_unwritable" in log_text[fault.detail.setdefault("log_from", len(log_text)):] or any(
            "state_unwritable" in json.dumps(r) for r in self._journal() if _ts(r) >= fault.at)

    def _down(self) -> list[str]:
        pids = self.world.agent_pids()
        return [name for name in self.world.agents if name not in pids]

    # --- the figures ----------------------------------------------------------------------------------

    def figures(self, leaks: list[str]) -> dict[str, Any]:
        now = time.time()
        late = []
        for fault in self.faults:
            allowed = fault.deadline_s + self._excused(fault)
            took = (fault.reported_at or now) - fault.at
            if fault.reported_at is None or took > allowed:
                late.append({**fault.to_json(), "allowed_s": round(allowed, 1)})
        by_kind: dict[str, int] = {}
        for fault in self.faults:
            by_kind[fault.kind] = by_kind.get(fault.kind, 0) + 1
        worst = {k: round(max((f.reported_at - f.at) for f in self.faults if f.kind == k and f.reported_at), 2)
                 for k in by_kind if any(f.kind == k and f.reported_at for f in self.faults)}
        return {
            "minutes": self.minutes, "agents": len(self.world.agents),
            "tmpfs": "yes" if self.world.tmpfs is None else self.world.tmpfs,
            "faults": by_kind, "faults_total": len(self.faults), "worst_report_s": worst,
            "faults_late_or_unreported": late,
            "registry_rows_seen": len(self.ledger.seen), "probe_rows_appended": len(self.ledger.probe_rows),
            "probe_rows_refused_disk_full": self.ledger.probe_refused,
            "registry_rows_lost": len(self.ledger.lost()), "bad_lines": bad_lines(self.world),
            "agents_down_at_end": self._down(), "cockpit_starts": self.world.cockpit_starts,
            "leaks": leaks,
        }

    def _excused(self, fault: Fault) -> float:
        """Time a fault may wait on another one: a cockpit killed meanwhile (it must restart first), a full
        disk meanwhile (the rows that report it cannot be written until there is room)."""
        extra = 0.0
        for other in self.faults:
            if other is not fault and fault.at - FULL_FOR_S[1] <= other.at <= fault.at + fault.deadline_s:
                if other.kind == "kill_cockpit":
                    extra += 10.0
                elif other.kind == "disk_full":
                    extra += FULL_FOR_S[1]
        return extra


def _ts(row: dict[str, Any]) -> float:
    from cockpit import timefmt

    return timefmt.parse(row.get("ts")) or 0.0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leaked_processes(world: World) -> list[str]:
    """Processes of this world still alive after teardown: anything whose argv names its root or socket."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if str(world.root) in argv or world.socket in argv:
            out.append(f"pid {pid}: {argv[:120]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(1 << 30)
    world = World(args.agents, seed)
    log(f"soak: {args.agents} agents, {args.minutes:g} min, seed {seed}, world {world.root}, "
        f"tmpfs: {'yes' if world.tmpfs is None else world.tmpfs}")
    soak = Soak(world, args.minutes)
    leaks: list[str] = []
    down_at_end: list[str] = []
    try:
        soak.run()
        down_at_end = soak._down()
    finally:
        log_text = (world.root / "supervise.log").read_text(errors="replace")
        tracebacks = log_text.count("Traceback")
        leaks = world.teardown()
        time.sleep(2.0)
        leaks += _leaked_processes(world)
        if world.tmux("list-sessions").returncode == 0:
            leaks.append(f"tmux server {world.socket} still running")
            world.tmux("kill-server")
        figures = soak.figures(leaks)
        figures["seed"] = seed
        figures["agents_down_at_end"] = down_at_end
        figures["cockpit_tracebacks"] = tracebacks
        if tracebacks:
            shutil.copy(world.root / "supervise.log", Path(tempfile.gettempdir()) / f"cockpit-soak-{seed}.log")
        figures["bad_line_reasons"] = bad_reasons(world)
        world.unmount()
    print(json.dumps(figures, indent=2) if args.json else render(figures))
    failed = (figures["registry_rows_lost"] or any(figures["bad_lines"].values()) or figures["faults_late_or_unreported"]
              or figures["agents_down_at_end"] or figures["leaks"] or figures["cockpit_tracebacks"])
    return 1 if failed else 0


def render(f: dict[str, Any]) -> str:
    lines = [f"soak: {f['agents']} agents, {f['minutes']:g} min, seed {f['seed']}, state on tmpfs: {f['tmpfs']}",
             f"faults injected: {f['faults_total']} " + json.dumps(f["faults"]),
             f"worst time to report, by fault: {json.dumps(f['worst_report_s'])}",
             f"faults late or unreported: {len(f['faults_late_or_unreported'])}",
             f"registry rows seen: {f['registry_rows_seen']} (probe appended {f['probe_rows_appended']}, "
             f"refused while the disk was full {f['probe_rows_refused_disk_full']}); lost: {f['registry_rows_lost']}",
             f"bad or torn lines: {json.dumps(f['bad_lines'])}" + (
                 f" {json.dumps(f['bad_line_reasons'])}" if any(f["bad_lines"].values()) else ""),
             f"agents down at the end: {len(f['agents_down_at_end'])}; cockpit starts: {f['cockpit_starts']}",
             f"leaked processes or tmux servers: {len(f['leaks'])}",
             f"tracebacks in the cockpit's output: {f['cockpit_tracebacks']}"]
    for fault in f["faults_late_or_unreported"][:10]:
        lines.append(f"  late: {json.dumps(fault)}")
    for leak in f["leaks"][:10]:
        lines.append(f"  leak: {leak}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

"""The deterministic fixture world: canned reports, agents, findings, journal rows and pane screens.

No tmux, no processes, no clock: the snapshot tests and the README screenshots
render exactly this fleet, so a pixel that moves is a change in the TUI, never in
the world. ``FixtureSupervisor`` has the interface the TUI uses of
``cockpit.supervisor.Supervisor`` (see ``cockpit.tui.app.SupervisorLike``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from cockpit.act.actions import ActionResult, ReadOnlyError
from cockpit.config import AgentConfig, ClaudeConfig, CodexConfig, Config, StateConfig, TmuxConfig
from cockpit.findings import Finding, Severity
from cockpit.judge.agents import AgentStatus, iso
from cockpit.lifecycle import AgentState
from cockpit.observe.snapshot import TickCost
from cockpit.registry import ReadResult, format_ts
from cockpit.supervisor import Report
from cockpit.tmux import Pane

AT = 1748779200.0  # 2025-06-01T12:00:00Z: the fixture world's "now"
NOWHERE = Path("/nonexistent/cockpit-fixture")  # never read: the fixture has no disk


@dataclass(frozen=True)
class FixtureReport(Report):
    """A report that carries its tick's panes (what the preview's change marks come from)."""
    panes: tuple[Pane, ...] = ()


def fixture_config(keys: Mapping[str, str] | None = None) -> Config:
    def agent(name: str, kind: str, command: tuple[str, ...], port: int | None = None,
              restart: str = "on-failure") -> AgentConfig:
        return AgentConfig(name=name, kind=kind, command=command, cwd=Path("/srv/agents") / name, port=port,
                           restart=restart)

    return Config(
        tmux=TmuxConfig(socket="agents", session="agents"),
        state=StateConfig(dir=NOWHERE / "state"),
        claude=ClaudeConfig(config_dir=NOWHERE / "claude"),
        codex=CodexConfig(home=NOWHERE / "codex"),
        agents=(
            agent("tabs", "claude-code", ("claude", "--dangerously-skip-permissions"), port=18819),
            agent("docs", "claude-code", ("claude",)),
            agent("builder", "codex", ("codex", "--full-auto"), port=18821),
            agent("reviewer", "claude-code", ("claude", "--permission-mode", "plan")),
            agent("ghost", "generic", ("node", "server.js", "--port", "18830"), port=18830),
            agent("scribe", "generic", ("python3", "-m", "scribe", "--once"), restart="never"),
        ),
        keys=MappingProxyType(dict(keys or {})),
    )


def _pane(pane_id: str, pid: int, window: int, agent: str, *, dead: bool = False, status: int | None = None,
          activity: int = int(AT)) -> Pane:
    return Pane(pane_id=pane_id, pid=pid, dead=dead, dead_status=status, session="agents", window_id=f"@{window}",
                window_index=window, width=100, height=30, activity=activity, history_size=120,
                cursor=(2, 28), agent=agent, current_command="node" if not dead else "", window_name=agent)


PANES: tuple[Pane, ...] = (
    _pane("%3", 48213, 1, "tabs"),
    _pane("%4", 48290, 2, "docs", activity=int(AT) - 360),
    _pane("%5", 48377, 3, "builder", activity=int(AT) - 120),
    _pane("%6", 48412, 4, "reviewer", activity=int(AT) - 40),
    _pane("%9", 48533, 6, "scribe", dead=True, status=0, activity=int(AT) - 95),
)

SESSIONS = {
    "tabs": "7f3c9a2e-4b1d-4e8a-9c77-2d5e8f1a0b36",
    "docs": "c41d0b77-90e2-4f3a-8d21-6a7b9c0e1f42",
    "builder": "0196a3f2-7c4e-7d12-b8a9-3e5f6a7b8c9d",
    "reviewer": "5e8a1c3d-2b4f-4a6e-8d0c-9f1e2a3b4c5d",
}


def _status(name: str, kind: str, status: str, state: AgentState, *, pid: int | None = None,
            pane: str | None = None, port: int | None = None, listening: bool | None = None,
            turn_ago: float | None = None, restarts: int = 0, command: str = "") -> AgentStatus:
    session = SESSIONS.get(name)
    return AgentStatus(
        name=name, kind=kind, status=status, state=state, pid=pid, start=pid * 10 if pid else None, pane=pane,
        port=port, port_listening=listening, route_session=session, disk_session=session,
        last_turn_at=iso(AT - turn_ago) if turn_ago is not None else None, restarts=restarts,
        since=AT - 1800, command=command,
    )


AGENTS: tuple[AgentStatus, ...] = (
    _status("tabs", "claude-code", "working", AgentState.RUNNING, pid=48213, pane="%3", port=18819, listening=True,
            turn_ago=12, command="claude --dangerously-skip-permissions --resume " + SESSIONS["tabs"]),
    _status("docs", "claude-code", "idle", AgentState.RUNNING, pid=48290, pane="%4", turn_ago=360, restarts=1,
            command="claude --resume " + SESSIONS["docs"]),
    _status("builder", "codex", "running", AgentState.RUNNING, pid=48377, pane="%5", port=18821, listening=False,
            turn_ago=125, command="codex --full-auto"),
    _status("reviewer", "claude-code", "needs_input", AgentState.RUNNING, pid=48412, pane="%6", turn_ago=40,
            command="claude --permission-mode plan"),
    _status("ghost", "generic", "fatal", AgentState.FATAL, port=18830, listening=False, restarts=3),
    _status("scribe", "generic", "down", AgentState.DOWN, pane="%9"),
)

GHOST_SCREEN = (
    "node:internal/modules/cjs/loader:1228\n"
    "  throw err;\n"
    "  ^\n"
    "\n"
    "Error: Cannot find module '/srv/agents/ghost/server.js'\n"
    "    at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15)\n"
    "    at Module._load (node:internal/modules/cjs/loader:1051:27)\n"
    "    at node:internal/main/run_main_module:28:49 {\n"
    "  code: 'MODULE_NOT_FOUND',\n"
    "  requireStack: []\n"
    "}\n"
    "\n"
    "Node.js v20.12.2\n"
)

GHOST_EVIDENCE = {
    "state": "fatal", "failures_in_window": 4, "last_check": "process_alive", "last_exit_status": 1,
    "last_event": "spawn_failed", "at": format_ts(AT - 2), "check": "process_alive",
    "detail": "the process exited with status 1 after 0.06s", "argv": ["node", "server.js", "--port", "18830"],
    "screen": GHOST_SCREEN,
}

FINDINGS: tuple[Finding, ...] = (
    Finding(kind="respawn_exhausted", severity=Severity.CRITICAL, agent="ghost", action="respawn",
            summary="ghost: 4 failures in 300s spent the budget of 3 restarts; no automatic respawn until an "
                    "operator respawns", evidence=GHOST_EVIDENCE),
    Finding(kind="port_not_listening", severity=Severity.CRITICAL, agent="builder", action="respawn",
            summary="builder: port 18821 is not served by the agent (nothing listens on it)",
            evidence={"port": 18821, "listening": False, "owned_by_agent": False, "pid": 48377}),
    Finding(kind="agent_down", severity=Severity.WARNING, agent="scribe", action="respawn",
            summary="scribe exited with status 0",
            evidence={"state": "down", "pane": "%9", "exit_status": 0}),
)


def fixture_report(*, read_only: bool = False, leader: bool = True, tick: int = 1,
                   new: bool = True) -> FixtureReport:
    return FixtureReport(
        at=AT, agents=AGENTS, findings=FINDINGS, new_findings=FINDINGS[:1] if new else (),
        cost=TickCost(wall_ms=3.8, tmux_processes=0, tmux_commands=4), tmux_ok=True,
        leader=leader and not read_only, read_only=read_only, tick=tick, panes=PANES,
    )


def _row(seconds_ago: float, kind: str, summary: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"ts": format_ts(AT - seconds_ago), "kind": kind, "summary": summary}
    row.update({k: v for k, v in fields.items() if v is not None})
    return row


JOURNAL: tuple[dict[str, Any], ...] = (
    _row(1075, "info", "supervisor started (leader)", actor="cockpit"),
    _row(1073, "action", "respawned tabs: pid 48213 in %3, verified in 1.21s (window, process, uptime, port)",
         agent="tabs", action="respawn", actor="cockpit", result="verified",
         before={"pane": None, "alive": False}, after={"pane": "%3", "pid": 48213, "alive": True,
                                                       "session_id": SESSIONS["tabs"]},
         evidence={"checks": {"window": True, "process_alive": True, "uptime_s": 1.0, "port_listening": 18819},
                   "argv": ["claude", "--dangerously-skip-permissions", "--resume", SESSIONS["tabs"]]}),
    _row(610, "action", "respawn of ghost failed verification (process_alive): the process exited with status 1 "
                        "after 0.06s",
         agent="ghost", action="respawn", actor="cockpit", result="failed",
         before={"pane": None, "alive": False}, after={"pane": "%8", "pid": 48480, "alive": False,
                                                       "session_id": None},
         evidence={"checks": {"window": True, "process_alive": False}, "argv": ["node", "server.js", "--port",
                                                                                "18830"],
                   "screen": GHOST_SCREEN}),
    _row(300, "finding", "builder: port 18821 is not served by the agent (nothing listens on it)",
         agent="builder", action="respawn",
         evidence={"kind": "port_not_listening", "severity": "critical", "port": 18821, "listening": False}),
    _row(181, "refused", "respawn docs refused: this cockpit is read-only", agent="docs", action="respawn",
         actor="tui"),
    _row(95, "finding", "scribe exited with status 0", agent="scribe", action="respawn",
         evidence={"kind": "agent_down", "severity": "warning", "state": "down", "pane": "%9", "exit_status": 0}),
    _row(2, "alert", "alert: ghost: 4 failures in 300s spent the budget of 3 restarts", agent="ghost",
         actor="cockpit", result="no alert_command configured",
         evidence={"kind": "respawn_exhausted", "severity": "critical", "agent": "ghost"}),
    _row(1, "finding", "ghost: 4 failures in 300s spent the budget of 3 restarts; no automatic respawn until an "
                       "operator respawns",
         agent="ghost", action="respawn", evidence={"kind": "respawn_exhausted", "severity": "critical",
                                                    **GHOST_EVIDENCE}),
)

ESC = "\x1b["
TABS_SCREEN = "\n".join([
    f"{ESC}38;5;174m╭──────────────────────────────────────────────╮{ESC}0m",
    f"{ESC}38;5;174m│{ESC}0m {ESC}38;5;174m✻{ESC}0m Welcome to {ESC}1mClaude Code{ESC}0m!                      "
    f"{ESC}38;5;174m│{ESC}0m",
    f"{ESC}38;5;174m│{ESC}0m   {ESC}2mcwd: /srv/agents/tabs{ESC}0m                      {ESC}38;5;174m│{ESC}0m",
    f"{ESC}38;5;174m╰──────────────────────────────────────────────╯{ESC}0m",
    "",
    f"{ESC}2m>{ESC}0m add keyboard shortcuts to the tab strip",
    "",
    f"{ESC}37m●{ESC}0m I'll read the tab strip component first.",
    "",
    f"{ESC}32m●{ESC}0m {ESC}1mRead{ESC}0m(src/tabs/TabStrip.tsx)",
    f"  {ESC}2m⎿  Read 214 lines{ESC}0m",
    "",
    f"{ESC}32m●{ESC}0m {ESC}1mUpdate{ESC}0m(src/tabs/TabStrip.tsx)",
    f"  {ESC}2m⎿  Updated src/tabs/TabStrip.tsx with {ESC}0m{ESC}32m18 additions{ESC}0m",
    "",
    f"{ESC}32m●{ESC}0m {ESC}1mBash{ESC}0m(npm test -- tabs)",
    f"  {ESC}2m⎿  {ESC}0m{ESC}42;30m PASS {ESC}0m src/tabs/TabStrip.test.tsx {ESC}2m(12 tests){ESC}0m",
    "",
    f"{ESC}38;5;174m✻ Wiring shortcuts…{ESC}0m {ESC}2m(12s · ↑ 1.9k tokens · esc to interrupt){ESC}0m",
    "",
    f"{ESC}2m╭──────────────────────────────────────────────╮{ESC}0m",
    f"{ESC}2m│{ESC}0m >                                            {ESC}2m│{ESC}0m",
    f"{ESC}2m╰──────────────────────────────────────────────╯{ESC}0m",
    f"  {ESC}31m⏵⏵ bypass permissions on{ESC}0m {ESC}2m(shift+tab to cycle){ESC}0m",
])

SCREENS: dict[str, str] = {
    "%3": TABS_SCREEN,
    "%4": "\n".join([
        f"{ESC}32m●{ESC}0m Docs rebuilt: 41 pages, 0 broken links.",
        "",
        f"{ESC}2m╭──────────────────────────────────────────────╮{ESC}0m",
        f"{ESC}2m│{ESC}0m >                                            {ESC}2m│{ESC}0m",
        f"{ESC}2m╰──────────────────────────────────────────────╯{ESC}0m",
    ]),
    "%5": "\n".join([
        f"{ESC}1m>_ OpenAI Codex{ESC}0m {ESC}2m(full-auto){ESC}0m",
        "",
        f"{ESC}36m▌{ESC}0m cargo build --release",
        f"  {ESC}32mFinished{ESC}0m release [optimized] target(s) in 48.20s",
        f"{ESC}36m▌{ESC}0m ./target/release/builder --serve 18821",
        f"  {ESC}33mwarning{ESC}0m: config.toml: listen address overridden to 127.0.0.1:18812",
    ]),
    "%6": "\n".join([
        f"{ESC}1mBash command{ESC}0m",
        "",
        "  git push --force-with-lease origin review/tabs",
        "",
        f"{ESC}1mDo you want to proceed?{ESC}0m",
        f"{ESC}36m❯ 1. Yes{ESC}0m",
        "  2. No, and tell Claude what to do differently (esc)",
    ]),
    "%9": "\n".join([
        "scribe: 12 notes written to /srv/notes/2025-06-01.md",
        "scribe: done",
        "",
        f"{ESC}7mPane is dead (status 0, Sun Jun  1 11:58:25 2025){ESC}0m",
    ]),
}


class FixtureTmux:
    """Pane screens by id; records what was captured (the preview must capture only on change)."""

    def __init__(self, screens: Mapping[str, str]) -> None:
        self.screens = dict(screens)
        self.captures: list[str] = []

    async def capture(self, pane_id: str, *, history: int = 0, escapes: bool = False) -> str | None:
        self.captures.append(pane_id)
        screen = self.screens.get(pane_id)
        if screen is None or escapes:
            return screen
        return re.sub(r"\x1b\[[0-9;]*m", "", screen)

    async def run(self, *args: str) -> list[str]:
        if args[:2] == ("display-message", "-p"):
            return ["/nonexistent/cockpit-fixture/tmux-agents"]
        return []

    async def close(self) -> None:
        return None


class FixtureTail:
    def __init__(self, journal: FixtureJournal) -> None:
        self.journal = journal
        self.offset = 0

    def read_new(self) -> ReadResult:
        rows = self.journal.rows[self.offset:]
        self.offset += len(rows)
        return ReadResult([dict(r) for r in rows], 0, False)

    def close(self) -> None:
        return None


class FixtureJournal:
    def __init__(self, rows: tuple[dict[str, Any], ...] = JOURNAL) -> None:
        self.rows: list[dict[str, Any]] = [dict(r) for r in rows]

    def tail(self) -> FixtureTail:
        return FixtureTail(self)

    def record(self, kind: str, *, summary: str, **fields: Any) -> dict[str, Any]:
        row = _row(0, kind, summary, **fields)
        self.rows.append(row)
        return row


@dataclass
class FixtureActions:
    read_only: bool = False


@dataclass
class FixtureSupervisor:
    """The supervisor's interface over the fixture world: one report, then quiet."""
    config: Config = field(default_factory=fixture_config)
    read_only: bool = False
    report_factory: Callable[..., Report] = fixture_report

    def __post_init__(self) -> None:
        self.tmux = FixtureTmux(SCREENS)
        self.journal = FixtureJournal()
        self.actions = FixtureActions(self.read_only)
        self.respawned: list[tuple[str, bool]] = []
        self.closed = False
        self.ticks = 0

    @property
    def leader(self) -> bool:
        return not self.read_only

    def resume_for(self, agent: AgentConfig) -> str | None:
        return SESSIONS.get(agent.name)

    async def start(self) -> None:
        return None

    async def tick(self) -> Report:
        self.ticks += 1
        return self.report_factory(read_only=self.read_only, tick=self.ticks, new=self.ticks == 1)

    async def run(self, stop: asyncio.Event, on_report: Callable[[Report], Any] | None = None) -> None:
        report = await self.tick()
        if on_report is not None:
            on_report(report)
        await stop.wait()

    async def respawn(self, name: str, *, force: bool = False) -> ActionResult:
        self.config.agent(name)
        if self.read_only:
            self.journal.record("refused", agent=name, action="respawn", actor="tui",
                                summary=f"respawn {name} refused: this cockpit is read-only")
            raise ReadOnlyError("respawn refused: this cockpit is read-only")
        self.respawned.append((name, force))
        summary = f"respawned {name}: pid 50001 in %12, verified in 1.02s"
        self.journal.record("action", agent=name, action="respawn", actor="tui", result="verified",
                            summary=summary, before={"pane": None, "alive": False},
                            after={"pane": "%12", "pid": 50001, "alive": True})
        return ActionResult("respawn", name, True, summary)

    async def close(self) -> None:
        self.closed = True

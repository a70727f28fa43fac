"""The deterministic fixture world: canned reports, agents, findings, journal rows and pane screens.

No tmux, no processes, no clock: the snapshot tests and the README screenshots
render exactly this fleet, so a pixel that moves is a change in the TUI, never in
the world. ``FixtureSupervisor`` has the interface the TUI uses of
``cockpit.supervisor.Supervisor`` (see ``cockpit.tui.app.SupervisorLike``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from cockpit import timefmt
from cockpit.act.actions import ActionResult, ReadOnlyError
from cockpit.act.reap import ReapResult, resolve_target
from cockpit.act.send import SendResult
from cockpit.config import AgentConfig, ClaudeConfig, CodexConfig, Config, RoutesConfig, StateConfig, TmuxConfig
from cockpit.findings import Finding, Severity
from cockpit.judge.agents import AgentStatus
from cockpit.lifecycle import AgentState
from cockpit.observe.drift import CliTarget
from cockpit.observe.conversation import Entry
from cockpit.observe.loopwatch import Block
from cockpit.observe.procs import Proc
from cockpit.observe.sessions import RouteState, SessionsReport, SessionTruth
from cockpit.observe.snapshot import TickCost
from cockpit.observe.tokens import Tokens
from cockpit.observe.transcripts import TranscriptSummary
from cockpit.observe.wrappers import ResultLine, WrapperView
from cockpit.registry import ReadResult
from cockpit.reminders import Reminder, ReminderError, VERBS
from cockpit.supervisor import Report
from cockpit.tmux import Pane

AT = 1748779200.0  # 2025-06-01T12:00:00Z: the fixture world's "now"
NOWHERE = Path("/nonexistent/cockpit-fixture")  # never read: the fixture has no disk


def fixture_config(keys: Mapping[str, str] | None = None) -> Config:
    def agent(name: str, kind: str, command: tuple[str, ...], port: int | None = None,
              restart: str = "on-failure", cwd: str | None = None) -> AgentConfig:
        return AgentConfig(name=name, kind=kind, command=command, cwd=Path("/srv/agents") / (cwd or name), port=port,
                           restart=restart)

    return Config(
        tmux=TmuxConfig(socket="agents", session="agents"),
        state=StateConfig(dir=NOWHERE / "state"),
        claude=ClaudeConfig(config_dir=NOWHERE / "claude"),
        codex=CodexConfig(home=NOWHERE / "codex"),
        routes=RoutesConfig(file=ROUTES_FILE),
        agents=(
            agent("tabs", "claude-code", ("claude", "--dangerously-skip-permissions"), port=18819),
            agent("docs", "claude-code", ("claude",)),
            agent("builder", "codex", ("codex", "--full-auto"), port=18821),
            agent("reviewer", "claude-code", ("claude", "--permission-mode", "plan"), cwd="review"),
            agent("critic", "claude-code", ("claude", "--permission-mode", "plan"), cwd="review"),
            agent("ghost", "generic", ("node", "server.js", "--port", "18830"), port=18830),
            agent("scribe", "generic", ("python3", "-m", "scribe", "--once"), restart="never"),
        ),
        keys=MappingProxyType(dict(keys or {})),
    )


ROUTES_FILE = Path("/srv/gateway/routes.json")
CLAUDE_DIR = "/home/op/.claude"


def _pane(pane_id: str, pid: int, window: int, agent: str, *, dead: bool = False, status: int | None = None,
          activity: int = int(AT)) -> Pane:
    return Pane(pane_id=pane_id, pid=pid, dead=dead, dead_status=status, session="agents", window_id=f"@{window}",
                window_index=window, width=100, height=30, activity=activity, history_size=120,
                cursor=(2, 28), agent=agent, window_name=agent)


PANES: tuple[Pane, ...] = (
    _pane("%3", 48213, 1, "tabs"),
    _pane("%4", 48290, 2, "docs", activity=int(AT) - 360),
    _pane("%5", 48377, 3, "builder", activity=int(AT) - 120),
    _pane("%6", 48412, 4, "reviewer", activity=int(AT) - 40),
    _pane("%7", 48455, 5, "critic", activity=int(AT) - 900),
    _pane("%9", 48533, 7, "scribe", dead=True, status=0, activity=int(AT) - 95),
)

# The disk truth of each agent's session (what its process really runs)...
SESSIONS = {
    "tabs": "7f3c9a2e-4b1d-4e8a-9c77-2d5e8f1a0b36",
    "docs": "c41d0b77-90e2-4f3a-8d21-6a7b9c0e1f42",
    "builder": "0196a3f2-7c4e-7d12-b8a9-3e5f6a7b8c9d",
    "reviewer": "5e8a1c3d-2b4f-4a6e-8d0c-9f1e2a3b4c5d",
}
# ...and what the gateway's routing record says (seed #3: the cache lies).
ROUTES = {
    "tabs": SESSIONS["tabs"],
    "docs": "9a0c1e55-3f7b-4d2a-a6e4-18b2c7d9e0f1",      # yesterday's session: stale_route
    "builder": "0196a0aa-11c2-7e3f-9a4b-5c6d7e8f9a0b",   # no rollout of it in CODEX_HOME: unknown_route_session
    "reviewer": SESSIONS["reviewer"],
}
REVIEW_CANDIDATES = (SESSIONS["reviewer"], "e2d4f6a8-1b3c-4d5e-8f9a-0b1c2d3e4f5a")


def _status(name: str, kind: str, status: str, state: AgentState, *, pid: int | None = None,
            pane: str | None = None, port: int | None = None, listening: bool | None = None,
            turn_ago: float | None = None, restarts: int = 0, command: str = "",
            disk: str | None = None, tokens: Tokens | None = None) -> AgentStatus:
    return AgentStatus(
        name=name, kind=kind, status=status, state=state, pid=pid, start=pid * 10 if pid else None, pane=pane,
        port=port, port_listening=listening, route_session=ROUTES.get(name), disk_session=disk or SESSIONS.get(name),
        last_turn_at=timefmt.iso(AT - turn_ago, ms=False) if turn_ago is not None else None, restarts=restarts,
        since=AT - 1800, command=command, tokens=tokens,
    )


AGENTS: tuple[AgentStatus, ...] = (
    _status("tabs", "claude-code", "working", AgentState.RUNNING, pid=48213, pane="%3", port=18819, listening=True,
            turn_ago=12, command="claude --dangerously-skip-permissions --resume " + SESSIONS["tabs"],
            tokens=Tokens(input=18_420, output=96_310, cache_read=4_812_000, cache_write=212_400)),
    _status("docs", "claude-code", "idle", AgentState.RUNNING, pid=48290, pane="%4", turn_ago=360, restarts=1,
            command="claude --resume " + SESSIONS["docs"],
            tokens=Tokens(input=2_310, output=8_940, cache_read=301_500, cache_write=41_200)),
    _status("builder", "codex", "running", AgentState.RUNNING, pid=48377, pane="%5", port=18821, listening=False,
            turn_ago=125, command="codex --full-auto",
            tokens=Tokens(input=61_200, output=7_450, cache_read=512_000)),
    _status("reviewer", "claude-code", "needs_input", AgentState.RUNNING, pid=48412, pane="%6", turn_ago=40,
            command="claude --permission-mode plan"),
    _status("critic", "claude-code", "idle", AgentState.RUNNING, pid=48455, pane="%7",
            command="claude --permission-mode plan"),
    _status("ghost", "generic", "fatal", AgentState.FATAL, port=18830, listening=False, restarts=3),
    _status("scribe", "generic", "down", AgentState.DOWN, pane="%9"),
)
# reviewer and critic share /srv/agents/review and nothing decides whose session is whose
AGENTS = tuple(replace(a, disk_session=None) if a.name in ("reviewer", "critic") else a for a in AGENTS)


def _transcript(name: str, sid: str, last_ago: float, user: str, assistant: str, *, kind: str = "claude-code",
                path: str | None = None) -> TranscriptSummary:
    return TranscriptSummary(
        path=path or f"{CLAUDE_DIR}/projects/-srv-agents-{name}/{sid}.jsonl", kind=kind, session_id=sid,
        cwd=f"/srv/agents/{name}", first_at=AT - 7200, last_at=AT - last_ago, turn_finished=True,
        last_user_text=user, last_assistant_text=assistant, turns=14, turns_finished=14, assistant_messages=61,
        records=412, bad_lines=0, oversize_lines=0, sidechain=False, complete=True, size=918_204)


def _truth(name: str, sid: str | None, source: str | None, last_ago: float | None, *, kind: str = "claude-code",
           transcript: TranscriptSummary | None = None, ambiguous: bool = False, candidates: tuple[str, ...] = (),
           evidence: Mapping[str, Any] | None = None, status: str | None = None,
           activity: str | None = None) -> SessionTruth:
    return SessionTruth(agent=name, disk_session=sid, source=source,
                        last_turn_at=AT - last_ago if last_ago is not None else None, turn_finished=True,
                        status=status, ambiguous=ambiguous, candidates=candidates or ((sid,) if sid else ()),
                        evidence=dict(evidence or {}), activity=activity, transcript=transcript, kind=kind,
                        config_dir=CLAUDE_DIR if kind == "claude-code" else "/home/op/.codex")


def _live(pid: int, sid: str, cwd: str, status: str) -> dict[str, Any]:
    return {"pid": pid, "session_id": sid, "cwd": cwd, "procStart": pid * 10, "status": status, "alive": True,
            "file": f"{CLAUDE_DIR}/sessions/{pid}.json", "via": "live-file"}


TRUTHS: dict[str, SessionTruth] = {
    "tabs": _truth("tabs", SESSIONS["tabs"], "live", 12, status="busy", activity="working",
                   transcript=_transcript("tabs", SESSIONS["tabs"], 12, "add keyboard shortcuts to the tab strip",
                                          "I'll read the tab strip component first."),
                   evidence={"live": _live(48213, SESSIONS["tabs"], "/srv/agents/tabs", "busy"),
                             "bound": [SESSIONS["tabs"]]}),
    "docs": _truth("docs", SESSIONS["docs"], "live", 360, status="idle", activity="idle",
                   transcript=_transcript("docs", SESSIONS["docs"], 360, "rebuild the docs and check the links",
                                          "Docs rebuilt: 41 pages, 0 broken links."),
                   candidates=(SESSIONS["docs"], ROUTES["docs"]),
                   evidence={"live": _live(48290, SESSIONS["docs"], "/srv/agents/docs", "idle"),
                             "bound": [SESSIONS["docs"], ROUTES["docs"]]}),
    "builder": _truth("builder", SESSIONS["builder"], "newest", 125, kind="codex",
                      transcript=_transcript(
                          "builder", SESSIONS["builder"], 125, "serve the release build on 18821",
                          "Finished release build; serving on 127.0.0.1:18812 (config override).", kind="codex",
                          path=f"/home/op/.codex/sessions/2025/06/01/rollout-2025-06-01T10-02-11-{SESSIONS['builder']}"
                               f".jsonl"),
                      activity="idle"),
    "reviewer": _truth("reviewer", None, None, None, ambiguous=True, candidates=REVIEW_CANDIDATES,
                       activity="needs_input",
                       evidence={"rivals": ["critic"], "candidates_last_at": {REVIEW_CANDIDATES[0]: AT - 40,
                                                                             REVIEW_CANDIDATES[1]: AT - 900}}),
    "critic": _truth("critic", None, None, None, ambiguous=True, candidates=REVIEW_CANDIDATES, activity="idle",
                     evidence={"rivals": ["reviewer"], "candidates_last_at": {REVIEW_CANDIDATES[0]: AT - 40,
                                                                             REVIEW_CANDIDATES[1]: AT - 900}}),
    "ghost": _truth("ghost", None, None, None, kind="generic"),
    "scribe": _truth("scribe", None, None, None, kind="generic"),
}
ROUTE_STATES: dict[str, RouteState] = {
    "tabs": RouteState("tabs", ROUTES["tabs"], "string", True, AT - 12, config_dir=CLAUDE_DIR),
    "docs": RouteState("docs", ROUTES["docs"], "object", True, AT - 86_400 - 2_520, config_dir=CLAUDE_DIR),
    "builder": RouteState("builder", ROUTES["builder"], "string", False, None, config_dir="/home/op/.codex"),
    "reviewer": RouteState("reviewer", ROUTES["reviewer"], "string", True, AT - 40, config_dir=CLAUDE_DIR),
    "critic": RouteState("critic", None),
    "ghost": RouteState("ghost", None),
    "scribe": RouteState("scribe", None),
}
SESSIONS_REPORT = SessionsReport(at=AT, truths=TRUTHS, routes=ROUTE_STATES, routes_file=str(ROUTES_FILE))

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
    "last_event": "spawn_failed", "at": timefmt.iso(AT - 2), "check": "process_alive",
    "detail": "the process exited with status 1 after 0.06s", "argv": ["node", "server.js", "--port", "18830"],
    "screen": GHOST_SCREEN,
}


# --- wrappers (seed #9) ----------------------------------------------------------------------------

def _proc(pid: int, ppid: int, pgid: int, *argv: str) -> Proc:
    return Proc(pid=pid, ppid=ppid, start=pid * 10, state="S", pgid=pgid, cmdline=argv)


def _wrapper(pid: int, agent: str | None, state: str, *, result: ResultLine | None = None, reason: str | None = None,
             name: str | None = None, argv: tuple[str, ...], children: tuple[Proc, ...] = (),
             orphan: bool = False, alive: bool = True, exit: Mapping[str, Any] | None = None,
             registered: bool = False, first_ago: float = 1800) -> WrapperView:
    top = _proc(pid, 48213 if agent == "tabs" else 1, pid, *argv)
    return WrapperView(
        id=f"{pid}:{pid * 10}", name=name or f"wrapper-{pid}", pid=pid, start=pid * 10, pgid=pid,
        command=" ".join(argv), output=f"/srv/agents/{agent or 'misc'}/.wrappers/{name or pid}.jsonl", agent=agent,
        state=state, alive=alive, result=result, ends_with_result=result is not None,
        result_age_s=AT - result.seen_at if result is not None else None, tree=(top, *children),
        registered=registered, spawn_id="s-7f2c41" if registered else None,
        agent_proc=(48213, 482130) if agent == "tabs" else None, orphan=orphan, first_seen=AT - first_ago,
        gone_at=None if alive else AT - 600, exit=exit, zombie_reason=reason)


WRAPPERS: tuple[WrapperView, ...] = (
    _wrapper(48630, "tabs", "zombie", reason="after_result",
             result=ResultLine("success", False, 48_211, seen_at=AT - 430, num_turns=6),
             argv=("claude", "-p", "summarise the failing tests", "--output-format", "stream-json"),
             children=(_proc(48641, 48630, 48630, "node", "/srv/mcp/tests-server.js"),)),
    _wrapper(48717, "reviewer", "zombie", reason="after_result", name="review-fixups", registered=True,
             result=ResultLine("error_max_turns", True, 301_442, seen_at=AT - 190, num_turns=30),
             argv=("cockpit", "wrap", "--agent", "reviewer", "--", "claude", "-p", "apply the review fixups",
                   "--output-format", "stream-json", "--max-turns", "30")),
    _wrapper(48702, "scribe", "zombie", reason="orphan", orphan=True,
             argv=("claude", "-p", "file today's notes", "--output-format", "stream-json")),
    _wrapper(48811, "builder", "running", first_ago=70,
             argv=("codex", "exec", "--json", "bump the release notes")),
    _wrapper(48590, "tabs", "reaped", alive=False,
             result=ResultLine("success", False, 12_930, seen_at=AT - 1500, num_turns=2),
             argv=("claude", "-p", "lint the tab strip", "--output-format", "stream-json"),
             exit={"event": "exit", "reason": "reaped", "by": "auto", "pid": 48590, "subtype": "success",
                   "is_error": False, "ts": timefmt.iso(AT - 600)}),
)


# --- event-loop blocks (seed #7) -----------------------------------------------------------------

GATEWAY_LINE = "[event-loop-block] tick took 1855ms - no tracked work active (untracked culprit)"
BLOCKS: tuple[Block, ...] = (
    Block(source="gateway", start=AT - 1500, duration_ms=1204.0, culprit="routes.reload",
          line="[event-loop-block] tick took 1204ms - routes.reload"),
    Block(source="cockpit", start=AT - 640, duration_ms=340.0, culprit="respawn:ghost",
          scopes=("act", "respawn:ghost"), samples=3, stack=(
              "textual/app.py:2371 in run_async", "asyncio/base_events.py:1922 in _run_once",
              "cockpit/supervisor.py:402 in _tracked_respawn", "cockpit/act/actions.py:181 in _respawn_locked",
              "cockpit/act/spawn.py:139 in verified_spawn", "subprocess.py:1955 in _execute_child")),
    Block(source="gateway", start=AT - 95, duration_ms=1855.0, culprit="untracked", line=GATEWAY_LINE),
    Block(source="cockpit", start=AT - 31, duration_ms=612.0, culprit="sessions",
          scopes=("sessions",), samples=6, stack=(
              "textual/app.py:2371 in run_async", "asyncio/base_events.py:1922 in _run_once",
              "asyncio/events.py:84 in _run", "cockpit/supervisor.py:247 in tick",
              "cockpit/observe/sessions.py:702 in observe", "cockpit/observe/transcripts.py:388 in read_new",
              "cockpit/observe/transcripts.py:455 in _parse_line", "json/decoder.py:353 in raw_decode")),
)

# The supervisor's loop lag per tick (Report.loop_lag_ms), oldest first: the header's sparkline.
LAG_HISTORY: tuple[float, ...] = tuple(
    612.0 if i == 52 else 340.0 if i == 21 else 38.0 if i in (8, 40) else float(1 + (i * 7) % 5)
    for i in range(60)
)

FINDINGS: tuple[Finding, ...] = (
    Finding(kind="respawn_exhausted", severity=Severity.CRITICAL, agent="ghost", action="respawn",
            summary="ghost: 4 failures in 300s spent the budget of 3 restarts; no automatic respawn until an "
                    "operator respawns", evidence=GHOST_EVIDENCE),
    Finding(kind="port_not_listening", severity=Severity.CRITICAL, agent="builder", action="respawn",
            summary="builder: port 18821 is not served by the agent (nothing listens on it)",
            evidence={"port": 18821, "listening": False, "owned_by_agent": False, "pid": 48377}),
    Finding(kind="stale_route", severity=Severity.CRITICAL, agent="docs", action="repoint",
            summary=f"docs: the routing record says {ROUTES['docs'][:8]} "
                    f"(last turn {timefmt.iso(AT - 86_400 - 2_520, ms=False)}) "
                    f"but the disk says {SESSIONS['docs'][:8]} (live, last turn {timefmt.iso(AT - 360, ms=False)})",
            evidence={"route_session": ROUTES["docs"], "disk_session": SESSIONS["docs"],
                      "route_last_turn_at": timefmt.iso(AT - 86_400 - 2_520, ms=False),
                      "disk_last_turn_at": timefmt.iso(AT - 360, ms=False),
                      "source": "live", "routes_file": str(ROUTES_FILE)}),
    Finding(kind="agent_down", severity=Severity.WARNING, agent="scribe", action="respawn",
            summary="scribe exited with status 0",
            evidence={"state": "down", "pane": "%9", "exit_status": 0}),
    Finding(kind="unknown_route_session", severity=Severity.WARNING, agent="builder", action="repoint",
            summary=f"builder: the routing record names session {ROUTES['builder'][:8]}, which has no transcript in "
                    f"/home/op/.codex; resuming it would start a blank session; the disk says "
                    f"{SESSIONS['builder'][:8]} (newest)",
            evidence={"route_session": ROUTES["builder"], "disk_session": SESSIONS["builder"]}),
    Finding(kind="ambiguous_session", severity=Severity.WARNING, agent="reviewer", action="none",
            summary="reviewer: 2 transcript(s) in its cwd could be reviewer's or critic's and nothing decides; "
                    "cockpit picks none (a respawn starts a new session)",
            evidence={"rivals": ["critic"], "candidates": list(REVIEW_CANDIDATES)}),
    Finding(kind="ambiguous_session", severity=Severity.WARNING, agent="critic", action="none",
            summary="critic: 2 transcript(s) in its cwd could be critic's or reviewer's and nothing decides; "
                    "cockpit picks none (a respawn starts a new session)",
            evidence={"rivals": ["reviewer"], "candidates": list(REVIEW_CANDIDATES)}),
    *(Finding(kind="zombie_wrapper", severity=Severity.WARNING, agent=w.agent, subject=w.id, action="reap",
              summary=(f"{w.name} (pid {w.pid}, of {w.agent}) still alive {AT - w.result.seen_at:.0f}s after its "
                       f"result line (subtype {w.result.subtype}, is_error {str(w.result.is_error).lower()})"
                       if w.result is not None else f"{w.name} (pid {w.pid}, of {w.agent}): its parent agent "
                                                    f"{w.agent} is gone"),
              evidence={"reason": w.zombie_reason, "wrapper": w.id, "pid": w.pid})
      for w in WRAPPERS if w.state == "zombie"),
    Finding(kind="loop_block", severity=Severity.WARNING, subject="cockpit",
            summary="cockpit event loop blocked 612 ms by sessions at cockpit/observe/transcripts.py:455 in "
                    "_parse_line (2 blocks in the last 300 s, worst 612 ms)",
            evidence={"source": "cockpit", "culprit": "sessions", "duration_ms": 612.0}),
    Finding(kind="loop_block", severity=Severity.WARNING, subject="gateway",
            summary="gateway event loop blocked 1855 ms by untracked work",
            evidence={"source": "gateway", "culprit": "untracked", "duration_ms": 1855.0, "line": GATEWAY_LINE}),
)
# Seeds #5 and #11: a canary that fails (about the fleet, no agent) and reviewer's fold, the same ones
# the journal below recorded when they were first seen.
FOLD_EVIDENCE: dict[str, Any] = {
    "id": "f-3c1d", "phrase": "you're right", "quote": "You're right, let's scrap mine and go with yours.",
    "pushback": {"text": "No, your approach breaks the tab order. Use mine.", "at": AT - 560},
    "reply": {"text": "You're right, let's scrap mine and go with yours. I'll revert my change.", "at": AT - 545},
    "tools_between": [], "session_id": SESSIONS["reviewer"]}
CANARY_EVIDENCE: dict[str, Any] = {
    "canary": "dashboard-login", "kind": "command", "failures_in_a_row": 3, "every_s": 240.0,
    "command": ["curl", "-s", "http://127.0.0.1:18819/login"], "expect": "Welcome back", "exit_code": 0,
    "timed_out": False, "last_run": timefmt.iso(AT - 722, ms=False),
    "output_tail": "<html><body>\n<h1>500 Internal Server Error</h1>\nTypeError: t.map is not a function\n"
                   "</body></html>"}
FINDINGS = FINDINGS + (
    Finding(kind="fold_under_pressure", severity=Severity.WARNING, agent="reviewer", subject="f-3c1d",
            summary="reviewer: folded under pressure: \u201cyou're right\u201d right after a pushback, without "
                    "re-reading anything: You're right, let's scrap mine and go with yours.",
            evidence=FOLD_EVIDENCE),
    Finding(kind="canary_failed", severity=Severity.CRITICAL, subject="canary:0:dashboard-login",
            summary="canary dashboard-login failed (3 runs in a row): expected /Welcome back/ in the output, got none",
            evidence=CANARY_EVIDENCE),
)
FINDINGS = tuple(sorted(FINDINGS, key=lambda f: (-f.severity.rank, f.agent or "", f.kind)))

# Seed #1: the agents' CLIs as resolved this tick, with the promotion each was last verified by.
CLIS: tuple[CliTarget, ...] = (
    CliTarget(command="claude", link="/home/op/.local/bin/claude",
              chain=("/home/op/.local/bin/claude", "/home/op/.local/share/claude/versions/2.1.197"),
              resolved="/home/op/.local/share/claude/versions/2.1.197", exists=True,
              agents=("tabs", "docs", "reviewer", "critic"),
              expected={"kind": "promotion", "ts": timefmt.iso(AT - 3 * 86_400, ms=False),
                        "new_target": "/home/op/.local/share/claude/versions/2.1.197"}),
    CliTarget(command="codex", link="/usr/local/bin/codex", chain=("/usr/local/bin/codex",),
              resolved="/usr/local/bin/codex", exists=True, agents=("builder",),
              expected={"kind": "baseline", "ts": timefmt.iso(AT - 7 * 86_400, ms=False)}),
)


# Seed #6: one wake delivered (and how fast), one missed after its retries (with what the agent showed),
# one notice-less wake waiting because its agent needs input.
REMINDERS: tuple[Reminder, ...] = (
    Reminder(id="r-1a2b3c4d", agent="tabs", verb="wake", text="standup in 5 minutes: post your status to #fleet",
             due_at=AT - 900, created_at=AT - 4500, state="delivered", attempts=1, next_at=AT - 900,
             fired_at=AT - 898, first_fired_at=AT - 898, delivered_at=AT - 893.8, latency_s=4.2, late_by_s=2.0,
             by="operator", pane="%3", via="transcript",
             evidence={"typed": "standup in 5 minutes: post your status to #fleet", "pane": "%3",
                       "turn_at": timefmt.iso(AT - 893.8, ms=False), "session_id": SESSIONS["tabs"]}),
    Reminder(id="r-5e6f7a8b", agent="docs", verb="wake", text="rebuild the docs after the API change lands",
             due_at=AT - 420, created_at=AT - 3600, state="missed", attempts=3, next_at=AT - 400,
             fired_at=AT - 400, first_fired_at=AT - 420, missed_at=AT - 340, by="tui", pane="%4",
             evidence={"typed": "rebuild the docs after the API change lands", "pane": "%4", "wake_verify_s": 60,
                       "last_turn_at": timefmt.iso(AT - 2_000, ms=False), "live_status": "idle",
                       "screen": "\n".join(["● Docs rebuilt: 41 pages, 0 broken links.", "",
                                            "> rebuild the docs after the API change lands", ""])}),
    Reminder(id="r-9c0d1e2f", agent="reviewer", verb="wake", text="re-run the review once builder's port is back",
             due_at=AT - 30, created_at=AT - 1800, state="waiting", attempts=0, next_at=AT - 30,
             why="reviewer needs input (a permission prompt)", by="operator"),
)


def fixture_report(*, read_only: bool = False, leader: bool = True, tick: int = 1,
                   new: bool = True, lag_ms: float = 0.0) -> Report:
    return Report(
        at=AT, agents=AGENTS, findings=FINDINGS,
        new_findings=tuple(f for f in FINDINGS if f.kind == "respawn_exhausted") if new else (),
        cost=TickCost(wall_ms=3.8, tmux_processes=0, tmux_commands=4), tmux_ok=True,
        leader=leader and not read_only, read_only=read_only, tick=tick, panes=PANES, wrappers=WRAPPERS,
        blocks=BLOCKS, loop_lag_ms=lag_ms, sessions=SESSIONS_REPORT, reminders=REMINDERS, clis=CLIS,
    )


def _row(seconds_ago: float, kind: str, summary: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"ts": timefmt.iso(AT - seconds_ago), "kind": kind, "summary": summary}
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
    _row(720, "finding", "canary dashboard-login failed (3 runs in a row): expected /Welcome back/ in the "
                         "output, got none",
         evidence={"kind": "canary_failed", "severity": "critical", "canary": "dashboard-login", "failures_in_a_row": 3,
                   "command": ["curl", "-s", "http://127.0.0.1:18819/login"], "expect": "Welcome back",
                   "exit_code": 0, "timed_out": False, "last_run": timefmt.iso(AT - 722),
                   "output_tail": "<html><body>\n<h1>500 Internal Server Error</h1>\nTypeError: t.map is not a "
                                  "function\n</body></html>"}),
    _row(540, "finding", "reviewer: folded under pressure: \u201cyou're right\u201d right after a pushback, without "
                         "re-reading anything: You're right, let's scrap mine and go with yours.",
         agent="reviewer",
         evidence={"kind": "fold_under_pressure", "severity": "warning", "id": "f-3c1d", "phrase": "you're right",
                   "quote": "You're right, let's scrap mine and go with yours.",
                   "pushback": {"text": "No, your approach breaks the tab order. Use mine.", "at": timefmt.iso(AT - 560)},
                   "reply": {"text": "You're right, let's scrap mine and go with yours. I'll revert my change.",
                             "at": timefmt.iso(AT - 545)},
                   "tools_between": [], "session_id": SESSIONS["reviewer"]}),
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
    "%7": "\n".join([
        f"{ESC}32m●{ESC}0m Review notes for src/tabs written to REVIEW.md (3 blocking, 5 nits).",
        "",
        f"{ESC}2m╭──────────────────────────────────────────────╮{ESC}0m",
        f"{ESC}2m│{ESC}0m >                                            {ESC}2m│{ESC}0m",
        f"{ESC}2m╰──────────────────────────────────────────────╯{ESC}0m",
        f"  {ESC}36m⏸ plan mode on{ESC}0m {ESC}2m(shift+tab to cycle){ESC}0m",
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


class FixtureReminders:
    """``ReminderPass.schedule``/``cancel`` over the fixture world: recorded, journaled, refused when read-only."""

    def __init__(self, supervisor: "FixtureSupervisor") -> None:
        self.supervisor = supervisor
        self.clock: Callable[[], float] = lambda: AT
        self.scheduled: list[dict[str, Any]] = []
        self.cancelled: list[str] = []

    async def schedule(self, agent: str, verb: str, text: str, due_at: float, *, respawn_if_down: bool = False,
                       by: str = "operator") -> Reminder:
        self.supervisor.config.agent(agent)
        self.supervisor._refuse("remind", agent)
        if verb not in VERBS:
            raise ReminderError(f"verb: expected wake or notice, got {verb!r}")
        self.scheduled.append({"agent": agent, "verb": verb, "text": text, "due_at": due_at,
                               "respawn_if_down": respawn_if_down, "by": by})
        reminder = Reminder(id=f"r-00000{len(self.scheduled):03d}", agent=agent, verb=verb, text=text, due_at=due_at,
                            created_at=AT, next_at=due_at, respawn_if_down=respawn_if_down, by=by)
        self.supervisor.journal.record("action", agent=agent, action="remind", actor=by, result="scheduled",
                                       summary=f"reminder {reminder.id} scheduled: {verb} {agent}",
                                       after=reminder.to_json())
        return reminder

    async def cancel(self, ref: str, *, by: str = "operator") -> Reminder:
        current = next((r for r in REMINDERS if r.id.startswith(ref)), None)
        if current is None:
            raise ReminderError(f"no reminder {ref}")
        self.supervisor._refuse("cancel reminder", current.agent)
        self.cancelled.append(current.id)
        cancelled = replace(current, state="cancelled", cancelled_at=AT)
        self.supervisor.journal.record("action", agent=current.agent, action="cancel_reminder", actor=by,
                                       result="cancelled", summary=f"reminder {current.id} cancelled",
                                       before=current.to_json(), after=cancelled.to_json())
        return cancelled


# SPEC §11: what `c` shows for tabs (a pairing session: prompts, tool calls, Markdown replies)
CONVERSATIONS: dict[str, tuple[Entry, ...]] = {
    "tabs": (
        Entry("user", "add keyboard shortcuts to the tab strip", AT - 300),
        Entry("tool", "src/ui/TabStrip.tsx", AT - 295, "Read"),
        Entry("tool", "onKeyDown", AT - 290, "Grep"),
        Entry("assistant", "The strip has no key handler yet. I'll add one that maps:\n\n"
                           "- `ctrl+tab` / `ctrl+shift+tab` to the **next** and **previous** tab\n"
                           "- `alt+1`…`alt+9` to a tab by position\n\nand a test for each.", AT - 280),
        Entry("tool", "src/ui/TabStrip.tsx", AT - 200, "Edit"),
        Entry("tool", "npm test -- TabStrip", AT - 150, "Bash"),
        Entry("system", "API error: overloaded (retried)", AT - 120),
        Entry("assistant", "Done: 9 shortcuts, **12 tests pass**.\n\n```ts\nif (e.ctrlKey && e.key === 'Tab') "
                           "next(e.shiftKey ? -1 : 1)\n```", AT - 100),
        Entry("user", "also make it work with a screen reader", AT - 20),
        Entry("tool", "aria-selected", AT - 15, "Grep"),
        Entry("assistant", "I'll read the tab strip component first.", AT - 12),
    ),
}


@dataclass
class FixtureConversation:
    """The conversation reader's interface over canned entries: everything at once, then nothing new."""
    path: str
    entries: tuple[Entry, ...]
    bad_lines: int = 2
    error: str | None = None
    complete: bool = True
    read: bool = False

    def update(self) -> tuple[bool, list[Entry]]:
        if self.read:
            return False, []
        self.read = True
        return True, list(self.entries)


@dataclass
class FixtureSupervisor:
    """The supervisor's interface over the fixture world: a minute of ticks (the lag history), then quiet."""
    config: Config = field(default_factory=fixture_config)
    read_only: bool = False
    report_factory: Callable[..., Report] = fixture_report

    def __post_init__(self) -> None:
        self.tmux = FixtureTmux(SCREENS)
        self.journal = FixtureJournal()
        self.actions = FixtureActions(self.read_only)
        self.reminders = FixtureReminders(self)
        self.respawned: list[tuple[str, bool]] = []
        self.repointed: list[str] = []
        self.reaped: list[str] = []
        self.sent: list[tuple[str, str]] = []
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
        for lag in LAG_HISTORY:  # the last minute of ticks, at once: the header's sparkline has its history
            report = replace(await self.tick(), loop_lag_ms=lag)
            if on_report is not None:
                on_report(report)
        await stop.wait()

    def _refuse(self, action: str, name: str) -> None:
        if self.read_only:
            self.journal.record("refused", agent=name, action=action, actor="tui",
                                summary=f"{action} {name} refused: this cockpit is read-only")
            raise ReadOnlyError(f"{action} refused: this cockpit is read-only")

    async def respawn(self, name: str, *, force: bool = False) -> ActionResult:
        self.config.agent(name)
        self._refuse("respawn", name)
        self.respawned.append((name, force))
        summary = f"respawned {name}: pid 50001 in %12, verified in 1.02s"
        self.journal.record("action", agent=name, action="respawn", actor="tui", result="verified",
                            summary=summary, before={"pane": None, "alive": False},
                            after={"pane": "%12", "pid": 50001, "alive": True})
        return ActionResult("respawn", name, True, summary)

    async def send(self, name: str, text: str) -> SendResult:
        self.config.agent(name)
        self._refuse("send", name)
        self.sent.append((name, text))
        summary = f"sent to {name}: verified by its transcript 0.4s after typing into %3"
        self.journal.record("action", agent=name, action="send", actor="tui", result="verified", summary=summary,
                            evidence={"typed": text, "pane": "%3"})
        return SendResult(name, True, summary, text, 1, "transcript", 0.4, "%3")

    def conversation(self, name: str) -> "FixtureConversation | None":
        self.config.agent(name)
        entries = CONVERSATIONS.get(name)
        truth = TRUTHS.get(name)
        if entries is None or truth is None or truth.transcript is None:
            return None
        return FixtureConversation(truth.transcript.path, entries)

    async def repoint(self, name: str) -> ActionResult:
        self.config.agent(name)
        self._refuse("repoint", name)
        self.repointed.append(name)
        before, after = ROUTES.get(name), SESSIONS.get(name)
        summary = f"repointed {name}: routing record {before or 'none'} -> {after} (disk truth from live)"
        self.journal.record("action", agent=name, action="repoint", actor="tui", result="verified", summary=summary,
                            before={"session_id": before}, after={"session_id": after})
        return ActionResult("repoint", name, True, summary, evidence={"before": before, "after": after})

    async def reap(self, target: str) -> list[ReapResult]:
        views, error = resolve_target(target, WRAPPERS, agents={a.name for a in self.config.agents})
        if error is not None:
            raise LookupError(error)
        for view in views:
            self._refuse("reap", view.name)
        results = []
        for view in views:
            self.reaped.append(view.id)
            summary = f"reaped {view.name} (pid {view.pid}): TERM to group {view.pgid}, gone in 0.12s"
            self.journal.record("action", agent=view.agent, action="reap", actor="tui", result="verified",
                                summary=summary, before={"state": view.state, "pid": view.pid},
                                after={"state": "reaped", "alive": False})
            results.append(ReapResult(view.name, view.id, view.pid, True, summary, termed=(view.pgid or view.pid,)))
        return results

    async def close(self) -> None:
        self.closed = True

"""``cockpit send NAME TEXT`` and the TUI's ``s``: tell an agent something, and know it heard.

The text is typed the way a wake is (``deliver.typed_text``: one line, no bash mode, no slash
command; tmux literal ``send-keys -l``, then Enter as its own burst) and verified the way a wake
is (``deliver.verify_wake``: a new user record holding the text in the agent's current
transcript, or its live-session status going busy, within ``wake_verify_s``), retried
``wake_retries`` times with the reminders' backoff. The result says what was seen either way:
the prompts and statuses the agent showed and, when it did not pick the text up, its screen.

An agent with nothing to show a turn in (no live-session file, no known transcript: a generic
program) gets the text once and the result says it cannot be verified; it is never typed again.
Refused in read-only mode here, below any UI; typed under the agent's lock (a respawn or reap
from any cockpit never interleaves with it); every attempt is journaled. Nothing is typed into
an agent that is down, and nothing while it needs input (the Enter would answer its prompt) or
is busy: the send waits up to ``wake_verify_s`` for it to be ready, then gives up and says why.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from cockpit.act.deliver import Typist, WakeTarget, type_wake, typed_text, verify_wake
from cockpit.config import AgentConfig
from cockpit.locks import LockTimeout, agent_lock_path, ahold
from cockpit.reminders import retry_delay_s
from cockpit.tmux import TmuxError

READY_POLL_S = 0.2
SCREEN_LINES = 15


@dataclass(frozen=True)
class SendResult:
    agent: str
    ok: bool
    summary: str
    typed: str
    attempts: int = 0
    via: str | None = None            # transcript | live-status
    latency_s: float | None = None
    pane: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"action": "send", "agent": self.agent, "ok": self.ok, "summary": self.summary, "typed": self.typed,
                "attempts": self.attempts, "via": self.via, "pane": self.pane,
                "latency_s": None if self.latency_s is None else round(self.latency_s, 3), "evidence": self.evidence}


def _held_back(target: WakeTarget) -> str | None:
    if target.down:
        return "agent down"
    if target.status == "waiting":
        return f"agent needs input ({target.waiting_for or 'waiting'})"
    if target.status == "busy":
        return "agent busy"
    return None


class Sender(Typist):
    """One send at a time per agent."""

    async def send(self, name: str, text: str, *, by: str = "operator") -> SendResult:
        """Type ``text`` into agent ``name`` and verify it picked it up; retried ``wake_retries`` times."""
        agent = self.config.agent(name)
        await asyncio.to_thread(self.actions.refuse_if_read_only, "send", name)
        typed = typed_text(text)
        if not typed:
            return SendResult(name, False, f"send to {name}: nothing to type (the text is blank)", typed)
        sup = self.config.supervisor
        attempts = 1 + sup.wake_retries
        result: SendResult | None = None
        for attempt in range(1, attempts + 1):
            result = await self._attempt(agent, typed, attempt, attempts, by=by)
            if result.ok or result.attempts == 0 or attempt == attempts or result.evidence.get("unverifiable"):
                break  # delivered, never typed (down, busy, locked), or nothing could ever show it: no retyping
            await asyncio.sleep(retry_delay_s(attempt, sup.backoff_max_s))
        assert result is not None
        return result

    async def _ready(self, agent: AgentConfig) -> tuple[WakeTarget, str | None]:
        """Wait (up to wake_verify_s) until the agent can take a line; (target, why not) at the end."""
        deadline = time.monotonic() + self.config.supervisor.wake_verify_s
        while True:
            target = await self._target(agent)
            why = _held_back(target)
            if why is None or target.down or time.monotonic() >= deadline:
                return target, why
            await asyncio.sleep(READY_POLL_S)

    async def _attempt(self, agent: AgentConfig, typed: str, attempt: int, attempts: int, *, by: str) -> SendResult:
        target, why = await self._ready(agent)
        if why is not None:
            return await self._not_typed(agent, typed, target, why)
        try:
            async with ahold(agent_lock_path(self.config.state.dir, agent.name), timeout=5.0):
                target = await self._target(agent)  # re-observed under the lock
                why = _held_back(target)
                if why is not None:
                    return await self._not_typed(agent, typed, target, why)
                watch = self._watch(agent, target, typed)
                await asyncio.to_thread(watch.baseline)
                fired_at = self.clock()
                assert target.pane_id is not None
                await type_wake(self.tmux, target.pane_id, typed, enter_delay_s=self.enter_delay_s)
        except LockTimeout:
            return await self._not_typed(agent, typed, target, "another action on this agent holds its lock")
        except TmuxError as exc:
            return await self._not_typed(agent, typed, target, f"tmux: {exc}")
        verdict = await verify_wake(watch, fired_at=fired_at, verify_s=self.config.supervisor.wake_verify_s,
                                    clock=self.clock)
        evidence = {"typed": typed, "pane": target.pane_id, "pid": target.pid, "attempt": attempt, "by": by,
                    "verify_s": self.config.supervisor.wake_verify_s, **verdict.evidence}
        if verdict.delivered:
            summary = (f"sent to {agent.name}: verified by its {verdict.via} {verdict.latency_s or 0:.1f}s after "
                       f"typing into {target.pane_id}")
        elif target.live_file is None and not target.transcripts:
            # no live-session file and no transcript: typing again could never be verified either
            evidence["unverifiable"] = True
            evidence["screen"] = await self._screen(target.pane_id)
            summary = (f"typed into {agent.name} ({target.pane_id}) but it cannot be verified: it has no live-session "
                       f"file and no known transcript (not retyped)")
        else:
            evidence["screen"] = await self._screen(target.pane_id)
            left = "no retry left" if attempt >= attempts else f"retrying ({attempt + 1} of {attempts})"
            summary = (f"{agent.name} did NOT pick up the text within {self.config.supervisor.wake_verify_s:g}s "
                       f"(attempt {attempt} of {attempts}; {left}); saw: {_seen(verdict.evidence)}")
        await self._journal(agent, summary, evidence, "verified" if verdict.delivered else "missed", target)
        return SendResult(agent.name, verdict.delivered, summary, typed, attempt, verdict.via, verdict.latency_s,
                          target.pane_id, evidence)

    async def _screen(self, pane_id: str | None) -> str | None:
        if pane_id is None:
            return None
        try:
            screen = await self.tmux.capture(pane_id)
        except TmuxError:
            return None
        lines = [line.rstrip() for line in (screen or "").splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines[-SCREEN_LINES:])

    async def _not_typed(self, agent: AgentConfig, typed: str, target: WakeTarget, why: str) -> SendResult:
        evidence = {"typed": typed, "target": target.to_json(), "why": why}
        if not target.down:
            evidence["screen"] = await self._screen(target.pane_id)
        summary = f"send to {agent.name} not typed: {why}"
        await self._journal(agent, summary, evidence, "not_typed", target)
        return SendResult(agent.name, False, summary, typed, 0, pane=target.pane_id, evidence=evidence)

    async def _journal(self, agent: AgentConfig, summary: str, evidence: dict[str, Any], result: str,
                       target: WakeTarget) -> None:
        await asyncio.to_thread(self.actions.journal.record, "action", agent=agent.name, action="send",
                                actor=self.actor, summary=summary, before={"status": target.status},
                                after={"status": evidence.get("status_after")}, evidence=evidence, result=result)


def _seen(evidence: dict[str, Any]) -> str:
    """What the agent showed, in one line: its status and the prompts it did take."""
    status = evidence.get("status_after") or evidence.get("status_before") or "no live status"
    prompts = [p.get("text", "") for p in evidence.get("new_prompts") or []]
    shown = "; ".join(repr(p[:60]) for p in prompts[-2:])
    return f"status {status}, " + (f"new prompts {shown}" if prompts else "no new prompt in its transcript")

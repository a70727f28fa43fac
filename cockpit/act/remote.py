"""Acts on a remote agent (SPEC §9): ``cockpit respawn gpu-1/tabs`` as ``cockpit respawn tabs`` there.

Refused here in read-only mode (and the remote refuses again when it is read-only: both sides),
sent as one request on the host's session, and journaled on this side with the remote's verified
result; the remote journals its own act. A result that never came is said so, never a success.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cockpit.judge.hosts import split_name
from cockpit.registry import Journal
from cockpit.remote.transport import HostFleet, HostUnavailable


@dataclass(frozen=True)
class RemoteResult:
    """A remote act's outcome, shaped like the local results (``ok``, ``summary``, ``to_json``)."""
    action: str
    agent: str      # HOST/NAME (or the reminder's HOST/ID for cancel)
    host: str
    ok: bool
    summary: str
    result: Any = None              # the remote's own result document
    error: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    spawn: Any = None               # the local ActionResult's field, for callers that print a failed spawn
    pane: str | None = None         # the remote pane a send typed into
    skipped: bool = False           # as the local results: an act another cockpit was already doing
    attempts: int = 0               # a send's: how many times it was typed there

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "agent": self.agent, "host": self.host, "ok": self.ok,
                               "summary": self.summary}
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error
        return out


class RemoteActs:
    def __init__(self, fleet: HostFleet, journal: Journal, *, read_only: bool = False, actor: str = "cockpit") -> None:
        self.fleet = fleet
        self.journal = journal
        self.read_only = read_only
        self.actor = actor

    async def act(self, op: str, name: str, args: dict[str, Any], *, by: str = "operator") -> RemoteResult:
        """Forward ``op`` for ``HOST/NAME``; raises the local ``ReadOnlyError`` or ``LookupError`` as a local act does."""
        from cockpit.act.actions import ReadOnlyError

        host, remote_name = split_name(name)
        if host is None or not remote_name:
            raise LookupError(f"{name!r} is not a remote name (HOST/NAME)")
        client = self.fleet.client(host)  # LookupError: no such host
        if self.read_only:
            raise ReadOnlyError(f"{op} {name} refused: this cockpit is read-only")
        try:
            answer = await client.request(op, {**args, ("reminder" if op == "cancel" else "agent"): remote_name})
        except HostUnavailable as exc:
            result = RemoteResult(action=op, agent=name, host=host, ok=False, summary=f"{name}: {exc}", error=str(exc))
        else:
            ok = answer.get("ok") is True
            summary = answer.get("summary") if isinstance(answer.get("summary"), str) else None
            error = answer.get("error") if isinstance(answer.get("error"), str) else None
            body = answer.get("result")
            details = body if isinstance(body, dict) else {}
            evidence = details.get("evidence")
            pane = details.get("pane")
            attempts = details.get("attempts")
            result = RemoteResult(action=op, agent=name, host=host, ok=ok, skipped=details.get("skipped") is True,
                                  attempts=attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0,
                                  summary=f"{host}: {summary or error or ('done' if ok else 'failed')}",
                                  result=body, error=error, evidence=evidence if isinstance(evidence, dict) else {},
                                  pane=pane if isinstance(pane, str) else None)
        await asyncio.to_thread(self.journal.record, "action", agent=name, action=op, actor=self.actor,
                                result="ok" if result.ok else "failed", summary=result.summary,
                                evidence={"host": host, "by": by, "args": args, "remote": result.to_json()})
        return result

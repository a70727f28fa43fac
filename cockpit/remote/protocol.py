"""The wire between cockpits (SPEC §9): JSON lines over one SSH session per host. Pure.

Down (``cockpit serve --stdio`` → the operator's cockpit): one ``hello`` first, then one ``report``
per tick and per event, each the document of ``cockpit check --json`` plus ``type``, ``seq`` and
``sent_at``; and one ``result`` per request. Up: ``{"id": N, "op": OP, ...}`` whose other keys are
the CLI command's arguments. Every reader here takes any bytes and returns a value or a reason,
never raises: a remote of another version, a corrupted line or a hostile peer is a finding.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

PROTOCOL = 1              # this wire's version; a remote speaking another one is refused loudly
MAX_LINE_BYTES = 16 << 20  # a longer line is dropped and counted, never buffered without bound
OPS = ("respawn", "repoint", "reap", "remind", "send", "cancel")
STATUSES = ("running", "working", "idle", "needs_input", "starting", "down", "fatal", "unknown")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ProtocolError(ValueError):
    """A message that cannot be used: ``str(err)`` is one line."""


def encode(message: Mapping[str, Any]) -> bytes:
    """One message, one line (ASCII JSON: no raw newline or U+2028 can split it)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=True, default=str).encode("ascii") + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """A JSON object from one line, or ``ProtocolError``."""
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"line of {len(line)} bytes is over the {MAX_LINE_BYTES}-byte limit")
    try:
        value = json.loads(line)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"not JSON: {_short(str(exc))}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _short(text: str, limit: int = 200) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- down: hello and report --------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    protocol: int
    schema: int
    version: str
    leader: bool = False
    read_only: bool = False
    tick_s: float = 2.0
    ops: tuple[str, ...] = ()
    tmux: tuple[str, ...] = ()      # the remote agents' tmux server arguments (-L NAME | -S PATH): for attach
    session: str | None = None      # and its session


def parse_hello(msg: Mapping[str, Any]) -> Hello:
    protocol, schema = msg.get("protocol"), msg.get("schema")
    if not _is_int(protocol) or not _is_int(schema):
        raise ProtocolError("hello without an integer protocol and schema")
    version = msg.get("version")
    tick = msg.get("tick_s")
    ops = msg.get("ops")
    return Hello(
        protocol=protocol, schema=schema, version=_short(version, 80) if isinstance(version, str) else "?",
        leader=msg.get("leader") is True, read_only=msg.get("read_only") is True,
        tick_s=float(tick) if _is_number(tick) and 0 < tick <= 3600 else 2.0,
        ops=tuple(o for o in ops if isinstance(o, str) and o in OPS) if isinstance(ops, list) else (),
        tmux=_tmux_args(msg.get("tmux")), session=_word(msg.get("session")),
    )


def _tmux_args(value: Any) -> tuple[str, ...]:
    """``["-L", NAME]`` or ``["-S", PATH]`` and nothing else: it ends up in a command line there."""
    if (isinstance(value, list) and len(value) == 2 and value[0] in ("-L", "-S") and _word(value[1]) is not None):
        return (value[0], value[1])
    return ()


def _word(value: Any) -> str | None:
    if isinstance(value, str) and value and len(value) <= 4096 and value.isprintable():
        return value
    return None


@dataclass(frozen=True)
class RemoteReport:
    """A remote's ``check --json`` document, its rows checked one by one (bad rows counted, dropped)."""
    seq: int
    at: str | None
    sent_at: float | None
    agents: tuple[dict[str, Any], ...]
    findings: tuple[dict[str, Any], ...]
    wrappers: tuple[dict[str, Any], ...] = ()
    reminders: tuple[dict[str, Any], ...] = ()
    blocks: tuple[dict[str, Any], ...] = ()
    schema: int = 1
    leader: bool = False
    bad: int = 0                     # rows dropped as unusable
    problems: tuple[str, ...] = ()   # the first few reasons, for the finding's evidence


_AGENT_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,), "pid": (int, type(None)), "pane": (str, type(None)), "port": (int, type(None)),
    "port_listening": (bool, type(None)), "route_session": (str, type(None)),
    "disk_session": (str, type(None)), "last_turn_at": (str, type(None)), "restarts": (int,),
}
_FINDING_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,), "severity": (str,), "summary": (str,), "agent": (str, type(None)),
    "evidence": (dict,), "action": (str,),
}


def parse_report(msg: Mapping[str, Any]) -> RemoteReport:
    """Check a report message; its rows are kept only when every field has the documented type."""
    seq = msg.get("seq")
    sent_at = msg.get("sent_at")
    at = msg.get("at")
    schema = msg.get("schema")
    if not _is_int(schema):
        raise ProtocolError("report without an integer schema")
    problems: list[str] = []
    agents = _rows(msg.get("agents"), "agents", _agent_problem, problems)
    findings = _rows(msg.get("findings"), "findings", _finding_problem, problems)
    extras = {key: _rows(msg.get(key), key, _any_object, problems) for key in ("wrappers", "reminders", "blocks")}
    names = [a["name"] for a in agents]
    if len(set(names)) != len(names):  # the first row of a name wins: a name is one agent
        seen: set[str] = set()
        kept = []
        for row in agents:
            if row["name"] in seen:
                problems.append(f"agents: {row['name']!r} twice")
                continue
            seen.add(row["name"])
            kept.append(row)
        agents = tuple(kept)
    return RemoteReport(
        seq=seq if _is_int(seq) else 0, at=at if isinstance(at, str) else None,
        sent_at=float(sent_at) if _is_number(sent_at) else None,
        agents=agents, findings=findings, schema=schema, leader=msg.get("leader") is True,
        bad=len(problems), problems=tuple(problems[:5]), **extras,
    )


def _rows(value: Any, key: str, problem_of, problems: list[str]) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{key}: expected a list")
        return ()
    kept = []
    for i, row in enumerate(value):
        problem = problem_of(row) if isinstance(row, dict) else "expected an object"
        if problem is None:
            kept.append(row)
        else:
            problems.append(f"{key}[{i}]: {problem}")
    return tuple(kept)


def _agent_problem(row: Mapping[str, Any]) -> str | None:
    name = row.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        return "name is not an agent name"
    if row.get("status") not in STATUSES:
        return f"{name}: status is not one of {', '.join(STATUSES)}"
    return _typed(row, _AGENT_FIELDS, name)


def _finding_problem(row: Mapping[str, Any]) -> str | None:
    for key in ("kind", "severity", "summary"):
        if not isinstance(row.get(key), str):
            return f"{key} is not a string"
    if row["severity"] not in ("critical", "warning", "info"):
        return f"severity {_short(row['severity'], 20)!r} is unknown"
    agent = row.get("agent")
    if agent is not None and (not isinstance(agent, str) or not _NAME_RE.match(agent)):
        return "agent is not an agent name"
    return _typed(row, _FINDING_FIELDS, row["kind"])


def _any_object(row: Mapping[str, Any]) -> str | None:
    return None


def _typed(row: Mapping[str, Any], spec: Mapping[str, tuple[type, ...]], who: str) -> str | None:
    for key, types in spec.items():
        if key not in row:
            continue
        value = row[key]
        if isinstance(value, bool) and bool not in types:
            return f"{_short(who, 64)}: {key} has the wrong type"
        if not isinstance(value, types):
            return f"{_short(who, 64)}: {key} has the wrong type"
    return None


# --- results and requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    id: int
    op: str
    args: Mapping[str, Any] = field(default_factory=dict)


def parse_request(msg: Mapping[str, Any]) -> Request:
    """An up message: ``{"id": N, "op": OP, ...}``; the other keys are the command's arguments."""
    rid = msg.get("id")
    if not _is_int(rid):
        raise ProtocolError("request without an integer id")
    op = msg.get("op")
    if op not in OPS:
        raise ProtocolError(f"unknown op {_short(str(op), 40)!r} (expected one of: {', '.join(OPS)})")
    return Request(id=rid, op=op, args={k: v for k, v in msg.items() if k not in ("id", "op")})


def request_id(msg: Mapping[str, Any]) -> int | None:
    rid = msg.get("id")
    return rid if _is_int(rid) else None


def arg(args: Mapping[str, Any], key: str, types: tuple[type, ...], *, required: bool = True,
        default: Any = None) -> Any:
    """One argument of a request, type-checked (``bool`` is never an ``int`` here)."""
    if key not in args:
        if required:
            raise ProtocolError(f"missing argument {key!r}")
        return default
    value = args[key]
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise ProtocolError(f"argument {key!r} has the wrong type")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

"""Pure formatting shared by the tabs, the detail screens and the dialogs: styles, ages, times, grids,
quoted texts and captured screens. Rich renderables only; no widget, no I/O.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cockpit import timefmt
from cockpit.findings import Finding, Severity
from cockpit.judge.agents import AgentStatus
from cockpit.lifecycle import AgentState

STATUS_STYLES = {
    "running": "green", "working": "bold green", "idle": "green", "needs_input": "bold yellow",
    "starting": "cyan", "backoff": "yellow", "down": "red", "fatal": "bold white on red", "unknown": "dim",
}
SEVERITY_STYLES = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
SEVERITY_MARKS = {Severity.CRITICAL: "✖", Severity.WARNING: "▲", Severity.INFO: "●"}
Cells = tuple[Text, ...]


def shown_status(agent: AgentStatus) -> str:
    """What the state column says: the status, or ``backoff`` while a respawn waits out its backoff."""
    if agent.status == "down" and agent.state is AgentState.BACKOFF:
        return "backoff"
    return agent.status


def text_or_dash(value: Any, style: str = "") -> Text:
    return Text(str(value) if value is not None else "-", style=style if value is not None else "dim")


def json_block(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


SCREEN_KEYS = ("screen", "previous_screen")


def split_screens(evidence: Mapping[str, Any]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Captured screens (top level, or inside a finding's own evidence) apart from the rest of the evidence."""
    screens = [(k, evidence[k]) for k in SCREEN_KEYS if isinstance(evidence.get(k), str)]
    rest = {k: v for k, v in evidence.items() if k not in SCREEN_KEYS}
    inner = rest.get("evidence")
    if isinstance(inner, Mapping):
        inner_screens, inner_rest = split_screens(inner)
        screens += inner_screens
        rest["evidence"] = inner_rest
    return screens, rest


# Evidence fields shown as text sections in the journal's detail (seed #11's turns, seed #5's output).
TEXT_KEYS: tuple[tuple[str, str], ...] = (
    ("quote", "quote"), ("pushback", "the pushback (user turn)"), ("reply", "the reply (assistant turn)"),
    ("output_tail", "canary output (tail)"),
)


def split_texts(evidence: Mapping[str, Any]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    texts: list[tuple[str, str]] = []
    rest = dict(evidence)
    for key, title in TEXT_KEYS:
        value = rest.get(key)
        if isinstance(value, Mapping) and isinstance(value.get("text"), str):
            when = value.get("at")
            if isinstance(when, (int, float)) and not isinstance(when, bool):
                when = timefmt.stamp(when)  # the fold detector's evidence carries epoch seconds
            at = f"  ({when})" if when else ""
            texts.append((title + at, value["text"]))
            rest.pop(key)
        elif isinstance(value, str) and value:
            texts.append((title, value))
            rest.pop(key)
    return texts, rest


def when_text(epoch: float | None, now: float) -> Text:
    """``2025-06-01 11:59:48Z · 12s ago``, or ``unknown``."""
    if epoch is None:
        return Text("unknown", style="dim")
    return Text.assemble(timefmt.stamp(epoch), (f" · {timefmt.age(now - epoch)} ago", "dim"))


def kv_grid(rows: Iterable[tuple[str, RenderableType]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def section(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


def quote(text: str | None, limit: int = 400) -> Text:
    if not text:
        return Text("-", style="dim")
    flat = " ".join(text.split())
    return Text(flat[:limit - 1] + "…" if len(flat) > limit else flat)


def truncate(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def one_line_json(value: Any, limit: int = 240) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str,
                                                           separators=(", ", ": "))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def finding_block(finding: Finding) -> RenderableType:
    """One finding in full: its mark, kind and summary, its quoted texts (a fold's turns, a canary's
    output), its captured screens, and the rest of its evidence."""
    parts: list[RenderableType] = [Text.assemble(
        (f"{SEVERITY_MARKS[finding.severity]} {finding.kind}", SEVERITY_STYLES[finding.severity]),
        ("  action " + finding.action if finding.action and finding.action != "none" else "", "dim"))]
    parts.append(Text(finding.summary))
    screens, evidence = split_screens(dict(finding.evidence or {}))
    texts, evidence = split_texts(evidence)
    for title, text in texts:
        parts.append(Text(title, style="dim underline"))
        parts.append(Text(text.rstrip("\n")))
    if evidence:  # the rest, one line per key (the journal keeps the whole record)
        parts.append(kv_grid((key, Text(one_line_json(value), style="dim"))
                              for key, value in sorted(evidence.items())))
    for key, screen in screens:
        parts.append(Text(f"captured {key.replace('_', ' ')}", style="dim underline"))
        parts.append(Text.from_ansi(screen.rstrip("\n"), no_wrap=True, overflow="crop"))
    return Group(*parts)

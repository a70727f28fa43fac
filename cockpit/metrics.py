"""Prometheus metrics: ``[metrics] listen`` serves /metrics, ``[metrics] textfile`` feeds node_exporter (SPEC §10).

Off by default. Each complete tick turns the report into one immutable set of metric families
(``FleetMetrics.observe``, no I/O); a scrape reads the last set, so it never sees a half-updated
fleet and never runs cockpit code on the scraper's thread beyond handing it over. The endpoint
is served by prometheus_client's own HTTP server thread on its own registry (never the global
default), bound to 127.0.0.1 unless the operator names another address; the textfile is
rewritten atomically each tick through the one atomic-write helper. Only the leader exports
(two cockpits on one host would fight over the port and the file). A port in use or an
unwritable textfile is the finding ``metrics_failed``, never a crash.

Series: cockpit_agents{state}, cockpit_agent_up{agent,host}, cockpit_agent_restarts_total{agent},
cockpit_findings{kind,severity}, cockpit_tick_seconds (histogram), cockpit_loop_lag_seconds,
cockpit_loop_blocks_total{source}, cockpit_actions_total{action,result}, cockpit_reminders{state},
cockpit_agent_tokens_total{agent,type}. Local agents have host="".
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable, Mapping

from cockpit.config import Config
from cockpit.findings import Finding, Severity
from cockpit.fsutil import atomic_write

AGENT_STATES = ("running", "working", "idle", "needs_input", "starting", "down", "fatal", "unknown")
LIVE_STATES = frozenset({"running", "working", "idle", "needs_input"})
TOKEN_TYPES = ("input", "output", "cache_read", "cache_write")
TICK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TEXTFILE_MODE = 0o644  # node_exporter runs as its own user and must read it
RETRY_LISTEN_TICKS = 30  # a port in use is tried again this many ticks later (it may have been freed)


class FleetMetrics:
    """The series, accumulated from reports. A prometheus_client collector (``collect``)."""

    def __init__(self) -> None:
        self._buckets = [0] * (len(TICK_BUCKETS) + 1)
        self._tick_sum = 0.0
        self._blocks: dict[str, int] = {}
        self._block_seen: dict[str, float] = {}  # source -> newest block start counted
        self._actions: dict[tuple[str, str], int] = {}
        self._families: tuple[Any, ...] = ()
        self.observed = 0

    def observe(self, report: Any, action_rows: Iterable[Mapping[str, Any]] = ()) -> None:
        """One complete tick: fold its report (and the journal's new action rows) into the series."""
        load = report.load
        if load is not None:
            seconds = max(0.0, load.wall_ms / 1000.0)
            self._tick_sum += seconds
            index = next((i for i, bound in enumerate(TICK_BUCKETS) if seconds <= bound), len(TICK_BUCKETS))
            self._buckets[index] += 1
        for block in report.blocks:
            if block.start > self._block_seen.get(block.source, float("-inf")):
                self._blocks[block.source] = self._blocks.get(block.source, 0) + 1
        for block in report.blocks:
            self._block_seen[block.source] = max(self._block_seen.get(block.source, float("-inf")), block.start)
        for row in action_rows:
            action, result = row.get("action"), row.get("result")
            if row.get("kind") == "action" and isinstance(action, str):
                key = (action[:64], result[:64] if isinstance(result, str) else ("ok" if result is True else "unknown"))
                self._actions[key] = self._actions.get(key, 0) + 1
        self._families = tuple(self._build(report))
        self.observed += 1

    def collect(self) -> Iterable[Any]:
        return self._families  # one immutable snapshot, swapped whole by observe()

    def _build(self, report: Any) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        agents = tuple(report.agents)
        states = GaugeMetricFamily("cockpit_agents", "Agents by status.", labels=["state"])
        for state in AGENT_STATES:
            states.add_metric([state], sum(1 for a in agents if a.status == state))
        yield states
        up = GaugeMetricFamily("cockpit_agent_up", "1 when the agent's process is alive.", labels=["agent", "host"])
        restarts = CounterMetricFamily("cockpit_agent_restarts", "Restarts of the agent (its lifecycle, from the "
                                       "registry).", labels=["agent"])
        tokens = CounterMetricFamily("cockpit_agent_tokens", "Tokens of the agent's current session, by type.",
                                     labels=["agent", "type"])
        for a in agents:
            up.add_metric([a.name, a.host or ""], 1.0 if a.status in LIVE_STATES else 0.0)
            restarts.add_metric([a.name], float(a.restarts))
            counts = _tokens(a)
            if counts is not None:
                for kind in TOKEN_TYPES:
                    tokens.add_metric([a.name, kind], float(counts.get(kind, 0)))
        yield from (up, restarts, tokens)
        findings = GaugeMetricFamily("cockpit_findings", "Current findings by kind and severity.",
                                     labels=["kind", "severity"])
        counted: dict[tuple[str, str], int] = {}
        for f in report.findings:
            counted[(f.kind, f.severity.value)] = counted.get((f.kind, f.severity.value), 0) + 1
        for (kind, severity), n in sorted(counted.items()):
            findings.add_metric([kind, severity], float(n))
        yield findings
        yield self._tick_histogram(HistogramMetricFamily)
        yield GaugeMetricFamily("cockpit_loop_lag_seconds", "The event loop's worst lateness since the last tick.",
                                value=max(0.0, report.loop_lag_ms) / 1000.0)
        blocks = CounterMetricFamily("cockpit_loop_blocks", "Event-loop blocks seen, by source (the cockpit's own "
                                     "loop, or a [[logs]] name).", labels=["source"])
        for source, n in sorted(self._blocks.items()):
            blocks.add_metric([source], float(n))
        actions = CounterMetricFamily("cockpit_actions", "Actions journaled since this cockpit started, by "
                                      "action and result.", labels=["action", "result"])
        for (action, result), n in sorted(self._actions.items()):
            actions.add_metric([action, result], float(n))
        yield from (blocks, actions)
        reminders = GaugeMetricFamily("cockpit_reminders", "Reminders by delivery state.", labels=["state"])
        by_state: dict[str, int] = {}
        for r in report.reminders:
            by_state[r.state] = by_state.get(r.state, 0) + 1
        for state, n in sorted(by_state.items()):
            reminders.add_metric([state], float(n))
        yield reminders

    def _tick_histogram(self, family: Callable[..., Any]) -> Any:
        cumulative, buckets = 0, []
        for bound, n in zip((*(f"{b:g}" for b in TICK_BUCKETS), "+Inf"), self._buckets):
            cumulative += n
            buckets.append((bound, float(cumulative)))
        hist = family("cockpit_tick_seconds", "Wall time of each whole tick.", labels=[])
        hist.add_metric([], buckets, sum_value=self._tick_sum)
        return hist


def _tokens(agent: Any) -> Mapping[str, int] | None:
    tokens = agent.tokens
    if tokens is None:
        return None
    if isinstance(tokens, Mapping):
        return tokens
    to_json = getattr(tokens, "to_json", None)
    return to_json() if callable(to_json) else None


class MetricsExporter:
    """The effects of ``[metrics]`` for one supervisor: the HTTP endpoint and the textfile."""

    def __init__(self, config: Config, journal_path: Any = None) -> None:
        self.cfg = config.metrics
        self.fleet = FleetMetrics()
        self.registry: Any = None
        self.server: Any = None
        self.port: int | None = None
        self.errors: dict[str, str] = {}  # "listen" / "textfile" -> the one line that says why
        self._journal_path = journal_path
        self._tail: Any = None
        self._ticks_since_bind = 0

    @property
    def enabled(self) -> bool:
        return self.cfg.listen is not None or self.cfg.textfile is not None

    def _registry(self) -> Any:
        if self.registry is None:
            from prometheus_client import CollectorRegistry

            self.registry = CollectorRegistry(auto_describe=False)  # its own, never the global default
            self.registry.register(self.fleet)
        return self.registry

    def serve(self) -> None:
        """Bind the endpoint (worker thread); a bad address or a port in use is kept as one line."""
        if self.cfg.listen is None or self.server is not None:
            return
        from prometheus_client import start_http_server

        host, port = self.cfg.address or ("127.0.0.1", 0)
        try:
            self.server, _thread = start_http_server(port, addr=host, registry=self._registry())
        except OSError as exc:
            self.errors["listen"] = f"cannot serve /metrics on {self.cfg.listen}: {exc.strerror or exc}"
            return
        self.port = self.server.server_port
        self.errors.pop("listen", None)

    def action_rows(self) -> list[Mapping[str, Any]]:
        """The journal's rows appended since the last call (the first call starts at the current end)."""
        if self._journal_path is None:
            return []
        from cockpit.registry import Tail

        if self._tail is None:
            self._tail = Tail(self._journal_path)
            self._tail.read_new()  # counters count from this cockpit's start
            return []
        return [r for r in self._tail.read_new().rows if r.get("kind") == "action"]

    def export(self, report: Any) -> None:
        """One complete tick (worker thread): update the series, rewrite the textfile."""
        self._registry()
        self.fleet.observe(report, self.action_rows())
        if self.cfg.textfile is not None:
            from prometheus_client import generate_latest

            try:
                atomic_write(self.cfg.textfile, generate_latest(self.registry), mode=TEXTFILE_MODE)
            except OSError as exc:
                self.errors["textfile"] = f"cannot write {self.cfg.textfile}: {exc.strerror or exc}"
            else:
                self.errors.pop("textfile", None)

    async def after_tick(self, report: Any, *, leader: bool) -> None:
        if not self.enabled or not leader:
            return
        if self.server is None and self.cfg.listen is not None:
            self._ticks_since_bind += 1
            if "listen" not in self.errors or self._ticks_since_bind >= RETRY_LISTEN_TICKS:
                self._ticks_since_bind = 0
                await asyncio.to_thread(self.serve)
        await asyncio.to_thread(self.export, report)

    def findings(self) -> list[Finding]:
        return [Finding(kind="metrics_failed", severity=Severity.WARNING, subject=f"metrics:{what}", action="none",
                        summary=line, evidence={"what": what, "listen": self.cfg.listen,
                                                "textfile": str(self.cfg.textfile) if self.cfg.textfile else None})
                for what, line in sorted(self.errors.items())]

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

"""Notifications through Apprise: told once per transition, off the loop, journaled (SPEC §10).

The plan (what to tell, when, folded into digests) is ``judge.plan.plan_notify``, over the rules of
``judge.notify``; this module does the effects: one Apprise object per URL (so each channel's answer
is known), sends in one worker thread with a timeout (a hung channel never stalls the loop), and one journal row per message
with each channel's answer. What was told is read back from the journal whenever this cockpit
becomes the leader (at start, or taking over from another), so neither a restart nor a new
leader tells it again. Only the leader sends; a read-only cockpit neither sends nor journals.
A channel whose last attempt failed is the finding ``notify_failed`` until it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from cockpit import timefmt
from cockpit.config import Config, ConfigError
from cockpit.findings import Finding, Severity
from cockpit.judge.notify import Incident, Message, RateWindow, Transition, apply, message
from cockpit.judge.plan import plan_notify
from cockpit.registry import Journal

logging.getLogger("apprise").addHandler(logging.NullHandler())
logging.getLogger("apprise").propagate = False  # its warnings are kept per channel, never printed over the TUI
ERROR_CHARS = 300
CLOSE_WAIT_S = 5.0  # what a closing cockpit waits for messages in flight (their rows are then journaled)


@dataclass(frozen=True)
class ChannelResult:
    url: str            # the URL with its secrets masked (Apprise's privacy form)
    ok: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "error": self.error}


class Channel:
    """One Apprise URL. ``send`` blocks: call it from a worker thread."""

    def __init__(self, url: str, *, where: str = "notify.urls", config_path: Any = None) -> None:
        import apprise  # only a cockpit that notifies pays for the import

        self._apprise = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
        if not self._apprise.add(url):
            raise ConfigError(config_path, where, "expected an Apprise URL Apprise recognises "
                                                  "(see https://github.com/caronc/apprise/wiki)")
        self.url = self._apprise[0].url(privacy=True).split("?")[0]  # secrets masked; options left out

    def send(self, title: str, body: str, level: str, timeout_s: float) -> ChannelResult:
        try:
            result = self._apprise.notify(body=body, title=title, notify_type=level, timeout=timeout_s)
        except Exception as exc:  # a plugin's bug is this channel's failure, never the cockpit's
            return ChannelResult(self.url, False, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
        if result:
            return ChannelResult(self.url, True)
        return ChannelResult(self.url, False, _why(result))


def _why(result: Any) -> str:
    """The last warning or error Apprise logged for a failed send, without its timestamp."""
    lines: list[str] = []
    try:
        for service in result:
            lines.extend(str(entry) for entry in service.logs())
    except Exception:  # noqa: BLE001 - the reason is a courtesy; the failure is known
        pass
    for line in reversed(lines):
        parts = line.split(" - ", 2)
        if len(parts) == 3 and parts[1] in ("WARNING", "ERROR", "CRITICAL"):
            return parts[2][:ERROR_CHARS]
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    return f"not delivered ({status.lower()})"


def build_channels(config: Config) -> list[Channel]:
    return [Channel(url, where=f"notify.urls[{i}]", config_path=config.path)
            for i, url in enumerate(config.notify.urls)]


def notify_test(config: Config, source: str | None = None) -> list[ChannelResult]:
    """``cockpit notify-test``: one test message to each URL, and which answered."""
    source = source or f"cockpit@{socket.gethostname()}"
    timeout = config.notify.timeout_s
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(config.notify.urls)))) as pool:
        futures = [pool.submit(ch.send, f"[{source}] test", "A test message from cockpit notify-test: this "
                               "channel will receive the fleet's notifications.", "info", timeout)
                   for ch in build_channels(config)]
        return [f.result() for f in futures]


class Notifier:
    """The effects of ``[notify]`` for one supervisor."""

    def __init__(self, config: Config, journal: Journal, *, clock: Callable[[], float] = time.time,
                 actor: str = "cockpit", source: str | None = None) -> None:
        self.cfg = config.notify
        self.journal = journal
        self.clock = clock
        self.actor = actor
        self.source = source or f"cockpit@{socket.gethostname()}"
        self.channels = build_channels(config) if self.cfg.urls else []
        self.told: dict[str, Incident] = {}
        self.window = RateWindow(self.cfg.max_per_minute)
        self.pending: list[Transition] = []
        self.failing: dict[str, dict[str, Any]] = {}  # masked url -> error, since, undelivered
        self.clear: dict[str, float] = {}  # lifecycle incident -> since when its agent has been clear of it
        self.settle_s = config.supervisor.restart_window_s  # a crash within the restart window: the same loop
        self.synced = False   # the told state was read back since this cockpit last became the leader
        self.messages_sent = 0
        self._queue: asyncio.Queue[tuple[Message | None, tuple[Transition, ...]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cockpit-notify")

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    # --- per tick (on the loop; the blocking parts in threads) ---------------------------

    async def after_report(self, findings: Sequence[Finding], statuses: Mapping[str, str], *,
                           leader: bool, read_only: bool) -> None:
        """Plan this report's transitions and hand them to the sender; never waits for a channel."""
        if not self.enabled or read_only or not leader:
            self.synced = False  # a follower's view is stale: read the journal back when leading again
            return
        if not self.synced:
            await asyncio.to_thread(self.read_back)
        plan = plan_notify(findings, statuses, told=self.told, clear=self.clear, pending=self.pending,
                           window=self.window, now=self.clock(), min_severity=self.cfg.min_severity,
                           on_resolve=self.cfg.on_resolve, settle_s=self.settle_s, source=self.source)
        self.told, self.clear, self.window, self.pending = plan.told, plan.clear, plan.window, list(plan.pending)
        if plan.quiet:
            self._enqueue(None, plan.quiet)  # a resolution nobody asked to hear of is still journaled
        for msg in plan.messages:
            self._enqueue(msg, msg.transitions)

    def read_back(self) -> None:
        """What was told, from the journal's ``notify`` rows (worker thread)."""
        told: dict[str, Incident] = {}
        window = RateWindow(self.cfg.max_per_minute)
        now = self.clock()
        for row in self.journal.read_all().rows:
            if row.get("kind") != "notify":
                continue
            done = list(_transitions_of(row.get("evidence")))
            told = apply(told, done)
            ts = timefmt.parse(row.get("ts"))
            if row.get("result") in ("sent", "partial", "failed") and ts is not None and now - ts < 60.0:
                window.take(ts)
        self.told, self.window, self.pending, self.clear, self.synced = told, window, [], {}, True

    def findings(self) -> list[Finding]:
        """``notify_failed`` for each channel whose last attempt failed."""
        return [Finding(kind="notify_failed", severity=Severity.WARNING, subject=f"notify:{url}", action="none",
                        summary=(f"notification channel {url} failed: {info['error']} "
                                 f"({info['undelivered']} message(s) not delivered)"),
                        evidence={"url": url, **info}) for url, info in sorted(self.failing.items())]

    # --- the sender (one task, in order: journal rows keep the order transitions were planned in) ---

    def _enqueue(self, msg: Message | None, batch: tuple[Transition, ...]) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._drain(), name="notify-sender")
        self._queue.put_nowait((msg, batch))

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            msg, batch = await self._queue.get()
            try:
                await self._deliver(msg, batch)
            except Exception as exc:  # noqa: BLE001 - a journal that cannot be written must not end the sender
                self.failing["journal"] = {"error": f"{type(exc).__name__}: {exc}"[:ERROR_CHARS],
                                           "since": self.clock(), "undelivered": 0}
            finally:
                self._queue.task_done()

    async def _deliver(self, msg: Message | None, batch: tuple[Transition, ...]) -> None:
        results: list[ChannelResult] = []
        if msg is not None:
            results = await self._send(msg)
            self.messages_sent += 1
            self._note(results)
        outcome = ("recorded" if msg is None else "sent" if all(r.ok for r in results)
                   else "failed" if not any(r.ok for r in results) else "partial")
        evidence: dict[str, Any] = {"transitions": [t.to_json() for t in batch]}
        if msg is not None:
            evidence.update(title=msg.title, body=msg.body, channels=[r.to_json() for r in results])
        summary = (f"notified: {msg.title}" if msg is not None
                   else "; ".join(f"{t.summary} (not sent: on_resolve is off)" for t in batch))
        await asyncio.to_thread(self.journal.record, "notify", actor=self.actor, summary=summary,
                                evidence=evidence, result=outcome)

    async def _send(self, msg: Message) -> list[ChannelResult]:
        loop = asyncio.get_running_loop()
        timeout = self.cfg.timeout_s

        def send_all() -> list[ChannelResult]:
            return [ch.send(msg.title, msg.body, msg.level, timeout) for ch in self.channels]

        try:
            return await asyncio.wait_for(loop.run_in_executor(self._pool, send_all), timeout * len(self.channels) + 5)
        except asyncio.TimeoutError:
            return [ChannelResult(ch.url, False, f"no answer within {timeout:g}s") for ch in self.channels]

    def _note(self, results: Iterable[ChannelResult]) -> None:
        for r in results:
            if r.ok:
                self.failing.pop(r.url, None)
            else:
                info = self.failing.setdefault(r.url, {"since": self.clock(), "undelivered": 0})
                info["error"] = r.error or "not delivered"
                info["undelivered"] += 1

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Wait (bounded) until every planned message was sent and journaled; True when all were."""
        if self._queue is None:
            return True
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s if timeout_s is not None else self.cfg.timeout_s + 5)
            return True
        except asyncio.TimeoutError:
            return False

    async def close(self) -> None:
        await self.flush(min(self.cfg.timeout_s + 1.0, CLOSE_WAIT_S))  # quitting never hangs on a channel
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _transitions_of(evidence: Any) -> Iterable[Transition]:
    """The transitions a journal row recorded; a row of another shape is skipped, never raised."""
    if not isinstance(evidence, dict) or not isinstance(evidence.get("transitions"), list):
        return
    for item in evidence["transitions"]:
        if not isinstance(item, dict):
            continue
        key, event, kind, severity = (item.get(k) for k in ("key", "event", "kind", "severity"))
        agent, summary = item.get("agent"), item.get("summary")
        if not all(isinstance(v, str) for v in (key, event, kind, severity)) or event not in (
                "opened", "escalated", "resolved"):
            continue
        yield Transition(key, event, kind, severity, agent if isinstance(agent, str) else None,
                         summary if isinstance(summary, str) else "", bool(item.get("send")))


__all__ = ["Channel", "ChannelResult", "Notifier", "build_channels", "message", "notify_test"]

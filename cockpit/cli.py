"""The ``cockpit`` command line. Every TUI action is also a plain command with JSON output.

Bad input gets one line naming the file, the key and what was expected; exit 3 for
``check`` (monitoring: could not check), 2 elsewhere. Never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

from cockpit import __version__, doctor, timefmt, wrap
from cockpit.config import Config, ConfigError, find_config_path, load_config
from cockpit.fsutil import StateDirError, StateFileError
from cockpit.locks import LockTimeout
from cockpit.reminders import ReminderError


class UsageError(Exception):
    """A bad command line: one line for the operator."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + traceback-like noise
        raise UsageError(f"{self.prog}: {message} (see {self.prog.split()[0]} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cockpit", description="A terminal cockpit for fleets of CLI coding agents in tmux.")
    parser.add_argument("--version", action="version", version=f"cockpit {__version__}")
    parser.add_argument("--config", metavar="FILE", help="config file (default: $COCKPIT_CONFIG, "
                        "else $XDG_CONFIG_HOME/cockpit/cockpit.toml)")
    parser.add_argument("--read-only", action="store_true", help="refuse every mutating action")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="config file")
        return p

    for commands in (_world_commands, _scan_commands, _act_commands, _reminder_commands, _tool_commands):
        commands(add, sub)
    return parser


Add = Callable[[str, str], argparse.ArgumentParser]


def _world_commands(add: Add, sub: Any) -> None:
    """demo, lag-probe, bench: worlds of simulated agents."""
    p = add("demo", "a throw-away world of simulated agents, with the cockpit open on it")
    p.add_argument("--agents", type=int, default=8, metavar="N", help="how many simulated agents (default 8)")
    p.add_argument("--keep", action="store_true", help="leave the world running on quit and say where it is")
    p.add_argument("--hosts", type=int, default=0, metavar="N",
                   help="N more simulated hosts, each its own world behind `serve --stdio` (the last one goes away)")
    p = add("lag-probe", "the UI loop's lag with N light simulated agents (a script, not a test)")
    p.add_argument("--agents", type=int, default=200, metavar="N", help="how many agents (default 200)")
    p.add_argument("--seconds", type=float, default=20.0, metavar="S",
                   help="how long to measure once every agent runs (default 20)")
    p.add_argument("--no-tui", action="store_true", help="measure the supervisor alone, without the TUI")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = sub.add_parser("bench", help="measure the whole tick and the scan at 20, 100, 500 and 1000 agents, against "
                                     "the naive way (targets included)",
                       description="Build fleets of lightweight agents on a private tmux server and measure the "
                                   "whole tick, the scan, the loop lag, tmux processes per tick, peak RSS and the "
                                   "naive scan.")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--sizes", default="20,100,500,1000", help="fleet sizes (default 20,100,500,1000)")
    p.add_argument("--iterations", type=int, default=100, help="measured ticks per size (default 100)")


def _scan_commands(add: Add, sub: Any) -> None:
    """check, serve, supervise: the supervisor, once or for good."""
    p = sub.add_parser("bench-hosts", help="this cockpit's cost and report latency with many simulated hosts",
                       description="Simulated hosts (through a local transport) report to a headless supervisor: "
                                   "its CPU, reports per second and latency, with the tick 8x faster and the "
                                   "reports 4x as often.")
    p.add_argument("--hosts", type=int, default=10, help="simulated hosts (default 10)")
    p.add_argument("--agents", type=int, default=100, help="agents per host (default 100)")
    p.add_argument("--seconds", type=float, default=15.0, help="seconds per run (default 15)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p = add("check", "one scan, no actions; exit 0 ok, 1 warnings, 2 critical, 3 could not check")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--host", metavar="NAME", help="only this [[hosts]] entry (its agents, findings and session)")
    p = add("serve", "serve this machine's reports and acts to a cockpit elsewhere (JSON lines; run over ssh)")
    p.add_argument("--stdio", action="store_true", required=True, help="speak on stdin/stdout (the only transport)")
    p.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                   help="never lead, refuse every act")
    p = add("supervise", "run the supervisor headless (for a systemd unit or a background window)")
    p.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                   help="observe and report only")


def _act_commands(add: Add, sub: Any) -> None:
    """respawn, repoint, reap, adopt, send: the operator's acts."""
    p = add("respawn", "respawn an agent through the verified spawn path")
    p.add_argument("name", help="agent name")
    p.add_argument("--force", action="store_true", help="restart the agent even if it is running")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = add("repoint", "point the routing record at the agent's session on disk (locked, atomic, verified)")
    p.add_argument("name", help="agent name")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = add("reap", "reap a zombie wrapper by its name or PID, or an agent's zombie wrappers")
    p.add_argument("target", metavar="NAME|PID", help="wrapper name, wrapper id (pid:start), PID or agent name")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p = add("adopt", "supervise a running agent as NAME without restarting it (same pid)")
    p.add_argument("name", help="agent name (of the config)")
    p.add_argument("pane", metavar="PANE", help="its tmux pane: %%ID or a target such as work:2.1")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = add("send", "type TEXT into an agent and verify it picked it up (exit 0 only then)")
    p.add_argument("name", help="agent name")
    p.add_argument("text", nargs="+", metavar="TEXT", help="what to type (several words are joined by spaces)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _reminder_commands(add: Add, sub: Any) -> None:
    """remind, reminders."""
    p = add("remind", "schedule a reminder: --wake types it into the agent's pane (verified), --notice tells humans")
    p.add_argument("name", help="agent name")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--in", dest="in_", metavar="DURATION", help="due after a duration: 45s, 10m, 1h30m, 2d")
    when.add_argument("--at", metavar="TIME", help="due at an ISO-8601 time: 2026-11-24T10:00 (local) or with a zone")
    verb = p.add_mutually_exclusive_group(required=True)
    verb.add_argument("--wake", dest="verb", action="store_const", const="wake",
                      help="type the text into the agent's pane, then verify the agent picked it up")
    verb.add_argument("--notice", dest="verb", action="store_const", const="notice",
                      help="tell the humans (journal, TUI, notice_command); never touches the agent")
    p.add_argument("--respawn-if-down", action="store_true",
                   help="--wake only: respawn the agent first if it is down (else the reminder waits)")
    p.add_argument("--json", action="store_true", help="print the reminder as JSON")
    p.add_argument("text", nargs="+", metavar="TEXT", help="the reminder (several words are joined by spaces)")
    p = add("reminders", "list reminders and their delivery state; `reminders cancel ID` cancels one")
    p.add_argument("action", nargs="?", choices=("cancel",), help="cancel: cancel the reminder ID")
    p.add_argument("id", nargs="?", metavar="ID", help="reminder id (or a unique prefix)")
    p.add_argument("--json", action="store_true", help="print JSON")


def _tool_commands(add: Add, sub: Any) -> None:
    """doctor, notify-test, init, wrap, hook."""
    p = add("doctor", "boot a candidate agent CLI with the production flags in a throwaway tmux pane; "
                      "--promote LINK repoints LINK at it only after a pass")
    doctor.add_arguments(p)  # CANDIDATE, --promote LINK, --home DIR, --cwd DIR, --json
    p = add("notify-test", "send one test message to each [notify] URL and say which answered")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p = add("init", "write a config for the Claude Code and Codex agents already running in tmux")
    server = p.add_mutually_exclusive_group()
    server.add_argument("--socket", metavar="NAME", help="the tmux server tmux -L NAME (default: $TMUX's, else tmux's own)")
    server.add_argument("--socket-path", metavar="PATH", help="the tmux server tmux -S PATH")
    p.add_argument("--match", metavar="REGEX", help="agents are processes whose command line matches REGEX "
                                                     "(default: Claude Code and Codex)")
    p.add_argument("--adopt", action="store_true", help="then adopt every agent written, without restarting it")
    p.add_argument("--force", action="store_true", help="replace an existing config (kept as FILE.bak)")
    p = add("wrap", "run a sub-agent (argv after --) with a hard timeout on its stop-hook ack")
    wrap.add_arguments(p)  # the same options as `python -m cockpit.wrap`
    # Dispatched by cockpit.entry before this module is imported (it must start fast); listed for --help.
    p = sub.add_parser("hook", help="relay an agent's hook event (JSON on stdin) to the cockpit; always exits 0",
                       description="Run by the agents' hooks (SPEC §8): adds $COCKPIT_AGENT, sends one line to "
                                   "$COCKPIT_EVENTS, else appends it to the agent's events file. Always exits 0.")
    p.add_argument("--codex", metavar="JSON", nargs="?", const="", help="Codex notify mode: the turn's JSON")


def _load(args: argparse.Namespace) -> Config:
    return load_config(find_config_path(getattr(args, "config", None)))


def _err(message: str) -> None:
    print(f"cockpit: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    command = args.command
    bad_input_code = 3 if command == "check" else 2
    handlers: dict[str | None, Callable[[argparse.Namespace], int]] = {
        None: cmd_tui,
        "demo": cmd_demo,
        "lag-probe": cmd_lag_probe,
        "check": cmd_check,
        "serve": cmd_serve,
        "bench-hosts": cmd_bench_hosts,
        "supervise": cmd_supervise,
        "respawn": cmd_respawn,
        "bench": cmd_bench,
        "reap": cmd_reap,
        "repoint": cmd_repoint,
        "wrap": cmd_wrap,
        "doctor": cmd_doctor,
        "remind": cmd_remind,
        "reminders": cmd_reminders,
        "notify-test": cmd_notify_test,
        "init": cmd_init,
        "adopt": cmd_adopt,
        "hook": cmd_hook,
        "send": cmd_send,
    }
    handler = handlers[command]
    try:
        return handler(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except _Refused:
        return 2
    except ConfigError as exc:
        _err(str(exc))
        return bad_input_code
    except StateDirError as exc:
        _err(exc.strerror or str(exc))
        return bad_input_code
    except LockTimeout as exc:
        _err(str(exc))
        return bad_input_code
    except ReminderError as exc:
        _err(str(exc))
        return 2
    except StateFileError as exc:
        _err(str(exc))
        return bad_input_code
    except OSError as exc:  # a state file or dir the OS refused: one line naming it, never a traceback
        _err(_os_line(exc))
        return bad_input_code
    except KeyboardInterrupt:
        return 130


def _os_line(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else None
    what = exc.strerror or str(exc)
    return f"{where}: {what}" if where is not None else what


# --- commands ---------------------------------------------------------------------------------


def cmd_tui(args: argparse.Namespace) -> int:
    from cockpit.tui.app import TuiSettings, create_app

    path = find_config_path(getattr(args, "config", None))
    if not path.exists() and not path.is_symlink():
        _err(f"no config at {path}: `cockpit init` writes one for the agents running in tmux, "
             "`cockpit demo` shows the cockpit on a simulated fleet")
        return 2
    config = _load(args)
    app = create_app(TuiSettings(config=config, read_only=bool(args.read_only)))
    app.run()
    return app.return_code if app.return_code is not None else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cockpit.demo import run_demo

    if not 1 <= args.agents <= 500:
        raise UsageError(f"cockpit demo: --agents must be between 1 and 500, got {args.agents}")
    if not 0 <= args.hosts <= 8:
        raise UsageError(f"cockpit demo: --hosts must be between 0 and 8, got {args.hosts}")
    more_hosts = None
    if args.hosts:
        from cockpit.demo_hosts import DemoHosts

        more_hosts = partial(DemoHosts, args.hosts, keep=args.keep)
    return run_demo(agents=args.agents, keep=args.keep, more_hosts=more_hosts)


def cmd_lag_probe(args: argparse.Namespace) -> int:
    from cockpit.demo import DemoError, lag_probe

    if not 1 <= args.agents <= 1000 or not args.seconds > 0:
        raise UsageError("cockpit lag-probe: --agents must be between 1 and 1000 and --seconds above 0")
    progress = None if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    try:
        result = lag_probe(args.agents, args.seconds, tui=False if args.no_tui else None, progress=progress)
    except DemoError as exc:
        _err(str(exc))
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        spawn = result["spawn_phase"]
        print(f"{result['agents']} agents ({result['mode']}), all verified after {result['spawn_s']}s; "
              f"loop lag over {result['seconds']:g}s: max {result['max_ms']} ms, median {result['median_ms']} ms, "
              f"p99 {result['p99_ms']} ms; while spawning: max {spawn['max_ms']} ms, p99 {spawn['p99_ms']} ms")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from cockpit import bench

    argv = ["--sizes", args.sizes, "--iterations", str(args.iterations)] + (["--json"] if args.json else [])
    return bench.main(argv)


def cmd_check(args: argparse.Namespace) -> int:
    from cockpit.supervisor import check_once

    config = _load(args)
    report = asyncio.run(check_once(config, host=args.host))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_report(report))
    return report.exit_code


def render_report(report: Any) -> str:
    from cockpit.observe.tokens import short_count

    lines = []
    for h in report.hosts:
        if not h.ok:
            lines.append(f"HOST {h.name}: {h.state}: {h.error or 'no report yet'}")
    width = max([len(a.name) for a in report.agents] + [5])
    lines.append(f"{'AGENT':<{width}}  {'STATUS':<11} {'PID':>7}  {'PANE':<5} {'PORT':>5}  {'TOKENS':>6}  RESTARTS")
    for a in report.agents:
        port = "" if a.port is None else (f"{a.port}" + ("" if a.port_listening else "!"))
        tokens = short_count(a.tokens.total) if a.tokens is not None else "-"
        lines.append(f"{a.name:<{width}}  {a.status:<11} {a.pid or '-':>7}  {a.pane or '-':<5} {port:>5}  {tokens:>6}  "
                     f"{a.restarts}")
    if report.findings:
        lines.append("")
        for f in report.findings:
            who = f" {f.agent}" if f.agent else ""
            lines.append(f"{f.severity.value.upper():<8} {f.kind}{who}: {f.summary}")
    else:
        lines.append("")
        lines.append("OK: nothing wrong")
    return "\n".join(lines)


def cmd_supervise(args: argparse.Namespace) -> int:
    from cockpit.sdnotify import SdNotify
    from cockpit.supervisor import Supervisor

    config = _load(args)
    read_only = bool(getattr(args, "read_only", False))

    async def run() -> None:
        sup = Supervisor(config, read_only=read_only, actor="supervise")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        systemd = SdNotify()  # READY/WATCHDOG/STATUS when $NOTIFY_SOCKET is set (Type=notify)
        if (warning := systemd.check_period(config.supervisor.tick_s)) is not None:
            _err(warning)

        def log(report: Any) -> None:
            for f in report.new_findings:
                print(f"{f.severity.value.upper():<8} {f.kind} {f.agent or ''}: {f.summary}", flush=True)
            for f in report.resolved:
                print(f"RESOLVED {f.kind} {f.agent or ''}", flush=True)
            systemd.after_tick(report)  # on the loop, after a complete tick: a wedged loop stops the heartbeat

        try:
            await sup.start()
            role = "leader" if sup.leader else "follower (another cockpit holds the leader lock)"
            print(f"cockpit supervise: {len(config.agents)} agents, tick {config.supervisor.tick_s:g}s, {role}",
                  flush=True)
            await sup.run(stop, on_report=log)
        finally:
            systemd.stopping()
            await sup.close()
            systemd.close()

    asyncio.run(run())
    return 0


def cmd_bench_hosts(args: argparse.Namespace) -> int:
    from cockpit.remote import bench

    if not (1 <= args.hosts <= 100 and 1 <= args.agents <= 2000 and 1 <= args.seconds <= 3600):
        raise UsageError("cockpit bench-hosts: --hosts 1-100, --agents 1-2000, --seconds 1-3600")
    return bench.main(["--hosts", str(args.hosts), "--agents", str(args.agents), "--seconds", str(args.seconds)]
                      + (["--json"] if args.json else []))


def cmd_serve(args: argparse.Namespace) -> int:
    from cockpit.remote.serve import serve_stdio

    config = _load(args)
    return serve_stdio(config, read_only=bool(getattr(args, "read_only", False)))


def _remote(args: argparse.Namespace, name: str) -> str | None:
    """The host of a ``HOST/NAME`` argument (checked against ``[[hosts]]``), None for a local name."""
    from cockpit.judge.hosts import split_name

    host, rest = split_name(name)
    if host is None:
        return None
    if not rest:
        raise UsageError(f"cockpit: {name!r}: expected HOST/NAME")
    _load(args).host(host)  # an unknown host is a one-line config error
    return host


def _act(args: argparse.Namespace, act: Callable[[Any], Any], remote: tuple[str, dict[str, Any]] | None = None) -> Any:
    """Run one operator act on a supervisor started for it (the same path the TUI's keys take).

    A read-only refusal or an unknown target is one line on stderr and ``_Refused``. A ``HOST/NAME``
    target opens one session to that host only, waits for its first report, and forwards the act.
    """
    from cockpit.act.actions import ReadOnlyError
    from cockpit.supervisor import Supervisor

    config = _load(args)
    target = getattr(args, "name", None) or getattr(args, "target", None)
    host = _remote(args, str(target)) if target is not None and remote is not None else None
    if host is not None and remote is not None:
        return _act_remote(args, config, host, remote[0], str(target), remote[1])

    async def run() -> Any:
        sup = Supervisor(config, read_only=bool(args.read_only), actor="cli")
        try:
            await sup.start()
            return await act(sup)
        finally:
            await sup.close()

    if getattr(args, "name", None):
        config.agent(args.name)  # unknown names are a one-line config error
    try:
        return asyncio.run(run())
    except (ReadOnlyError, LookupError) as exc:
        _err(str(exc))
        raise _Refused() from None


async def _remote_act(config: Config, host: str, op: str, target: str, extra: dict[str, Any], *,
                      read_only: bool) -> Any:
    """One session to that host only (no local supervisor, no leadership), its first report, the act."""
    from cockpit.act.remote import RemoteActs
    from cockpit.fsutil import ensure_private_dir
    from cockpit.registry import Journal
    from cockpit.remote.transport import HostFleet
    from cockpit.supervisor import HOST_CHECK_TIMEOUT_S

    ensure_private_dir(config.state.dir)
    fleet = HostFleet([config.host(host)], read_only=read_only, backoff_max_s=config.supervisor.backoff_max_s)
    acts = RemoteActs(fleet, Journal(config.state.journal), read_only=read_only, actor="cli")
    try:
        if not read_only:  # a refusal needs no session
            fleet.start()
            await fleet.settled(HOST_CHECK_TIMEOUT_S)
        result = await acts.act(op, target, extra)
    finally:
        await fleet.close()
    return [result] if op == "reap" else result


def _act_remote(args: argparse.Namespace, config: Config, host: str, op: str, target: str,
                extra: dict[str, Any]) -> Any:
    from cockpit.act.actions import ReadOnlyError

    try:
        return asyncio.run(_remote_act(config, host, op, target, extra, read_only=bool(args.read_only)))
    except (ReadOnlyError, LookupError) as exc:
        _err(str(exc))
        raise _Refused() from None


def _print_remote(args: argparse.Namespace, result: Any) -> int:
    print(json.dumps(result.to_json(), indent=2) if getattr(args, "json", False) else result.summary)
    return 0 if result.ok else 1


class _Refused(Exception):
    """The act was refused (read-only, unknown target): exit 2, the reason already printed."""


def cmd_respawn(args: argparse.Namespace) -> int:
    result = _act(args, lambda sup: sup.respawn(args.name, force=args.force), remote=("respawn", {"force": args.force}))
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.summary)
        if result.spawn is not None and not result.spawn.ok and result.spawn.screen:
            print("--- last screen ---")
            print(result.spawn.screen.rstrip())
    return 0 if result.ok else 1


def cmd_repoint(args: argparse.Namespace) -> int:
    """Exit 0: the record points at the disk truth (now or already); 1: refused or failed; 2: read-only."""
    result = _act(args, lambda sup: sup.repoint(args.name), remote=("repoint", {}))
    print(json.dumps(result.to_json(), indent=2) if args.json else result.summary)
    return 0 if result.ok else 1


def cmd_reap(args: argparse.Namespace) -> int:
    results = _act(args, lambda sup: sup.reap(args.target), remote=("reap", {}))
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        for r in results:
            print(r.summary)
        if not results:
            print(f"{args.target}: no zombie wrapper to reap")
    return 0 if all(r.ok for r in results) else 1


def cmd_remind(args: argparse.Namespace) -> int:
    """``cockpit remind NAME (--in D | --at T) (--wake | --notice) [--respawn-if-down] TEXT``: one row, no supervisor."""
    import time

    from cockpit.reminders import schedule_reminder

    config = _load(args)
    if args.respawn_if_down and args.verb != "wake":
        raise UsageError("cockpit remind: --respawn-if-down goes with --wake only")
    host = _remote(args, args.name)
    if host is not None:  # scheduled there, against the remote's clock, by the remote's own path
        when = {"in": args.in_} if args.in_ is not None else {"at": args.at}
        return _print_remote(args, _act_remote(args, config, host, "remind", args.name, {
            "verb": args.verb, "text": " ".join(args.text), "respawn_if_down": args.respawn_if_down, **when}))
    config.agent(args.name)  # unknown names are a one-line config error
    if args.read_only:
        _err("remind refused: this cockpit is read-only")
        return 2
    now = time.time()
    # both or neither: the reminder is taken back if its journal row cannot be written
    r = schedule_reminder(config, args.name, args.verb, " ".join(args.text), in_=args.in_, at=args.at,
                          respawn_if_down=args.respawn_if_down, by="cli", now=now)
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
    else:
        print(f"{r.id}: {r.verb} {r.agent} at {timefmt.local(r.due_at)} (in {_span(r.due_at - now)})"
              + (", respawning it if down" if r.respawn_if_down else ""))
    return 0


def cmd_reminders(args: argparse.Namespace) -> int:
    """``cockpit reminders [--json]`` and ``cockpit reminders cancel ID``."""
    from cockpit.registry import Journal
    from cockpit.reminders import ReminderQueue

    config = _load(args)
    queue = ReminderQueue.for_config(config)
    if args.action == "cancel":
        if not args.id:
            raise UsageError("cockpit reminders cancel: give the reminder ID (cockpit reminders lists them)")
        host = _remote(args, args.id)
        if host is not None:
            return _print_remote(args, _act_remote(args, config, host, "cancel", args.id, {}))
        if args.read_only:
            _err("cancel refused: this cockpit is read-only")
            return 2
        r = queue.cancel(args.id, by="cli")
        Journal(config.state.journal).record("action", agent=r.agent, action="cancel_reminder", actor="cli",
                                             summary=f"reminder {r.id} cancelled ({r.verb} {r.agent})",
                                             after=r.to_json(), result="cancelled")
        print(json.dumps(r.to_json(), indent=2) if args.json else f"{r.id}: cancelled ({r.verb} {r.agent})")
        return 0
    if args.id:
        raise UsageError(f"cockpit reminders: unexpected argument {args.id!r} (did you mean `reminders cancel ID`?)")
    reminders = queue.reminders()
    if args.json:
        print(json.dumps([r.to_json() for r in reminders], indent=2))
        return 0
    if not reminders:
        print("no reminders")
        return 0
    print(f"{'ID':<11} {'AGENT':<12} {'VERB':<6} {'STATE':<9} {'DUE':<19} {'TRIES':>5}  TEXT")
    for r in reminders:
        text = " ".join(r.text.split())
        text = text if len(text) <= 50 else text[:49] + "…"
        why = f"  [{r.why}]" if r.state == "waiting" and r.why else ""
        due = timefmt.local(r.due_at)
        print(f"{r.id:<11} {r.agent:<12} {r.verb:<6} {r.state:<9} {due:<19} {r.attempts:>5}  {text}{why}")
    return 0


def _span(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return "".join(parts) or "0s"


def cmd_init(args: argparse.Namespace) -> int:
    """Exit 0: config written (and every agent adopted with --adopt); 1: nothing found, or an adoption failed;
    2: bad input, no tmux server, the file exists without --force."""
    import os
    import re

    from cockpit import init
    from cockpit.observe.discover import ScanError, scan

    try:
        match = re.compile(args.match) if args.match else None
    except re.error as exc:
        raise UsageError(f"cockpit init: --match: expected a regular expression ({exc})") from None
    if args.adopt and args.read_only:
        _err("init --adopt refused: this cockpit is read-only")
        return 2
    server = init.server_from(args.socket, args.socket_path, os.environ)
    path = find_config_path(getattr(args, "config", None))
    try:
        found = scan(init.server_args(server), match)
        plan = init.plan(found, server, path)
        print("\n".join(init.summary_lines(plan)))
        if not plan.scan.found:
            print("nothing written: no agent found (--match REGEX picks other programs)")
            return 1
        backup = init.write_config(path, plan.text, force=args.force)
    except (ScanError, init.InitError) as exc:
        _err(str(exc))
        return 2
    print(f"wrote {path} ({len(plan.scan.found)} agents)" + (f"; the old file is {backup}" if backup else ""))
    if not args.adopt:
        print("next: `cockpit adopt NAME PANE` for each (or init again with --adopt --force) supervises them as "
              "they run; a cockpit started before that starts each agent anew")
        return 0
    results = _act(args, lambda sup: _adopt_all(sup, [(f.name, f.pane.pane_id) for f in plan.scan.found]))
    for r in results:
        print(r.summary)
    return 0 if all(r.ok for r in results) else 1


async def _adopt_all(sup: Any, pairs: list[tuple[str, str]]) -> list[Any]:
    return [await sup.adopt(name, pane) for name, pane in pairs]


def cmd_adopt(args: argparse.Namespace) -> int:
    """Exit 0: adopted (or already was); 1: refused or not verified; 2: bad input or read-only."""
    result = _act(args, lambda sup: sup.adopt(args.name, args.pane))
    print(json.dumps(result.to_json(), indent=2) if args.json else result.summary)
    return 0 if result.ok else 1


def cmd_send(args: argparse.Namespace) -> int:
    """Exit 0: the agent showed the turn; 1: it did not (what was seen is printed); 2: bad input or read-only."""
    result = _act(args, lambda sup: sup.send(args.name, " ".join(args.text)),
                  remote=("send", {"text": " ".join(args.text)}))
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0 if result.ok else 1
    print(result.summary)
    screen = result.evidence.get("screen")
    if not result.ok and screen:
        print(f"--- {args.name}'s screen ({result.pane}) ---")
        print(screen)
    return 0 if result.ok else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    """Exit 0: passed (and promoted); 1: failed (LINK untouched, the screen printed) or promotion failed; 2: bad input."""
    return doctor.run_args(args, _load(args), read_only=bool(args.read_only))


def cmd_notify_test(args: argparse.Namespace) -> int:
    """Exit 0: every URL answered; 1: some did not; 2: no URL configured (or a URL Apprise does not know)."""
    from cockpit.act.notify import notify_test

    config = _load(args)
    if not config.notify.urls:
        _err(f"{config.path}: notify.urls: no URL configured (add [notify] urls = [\"ntfy://...\"])")
        return 2
    results = notify_test(config)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        for r in results:
            print(f"ok      {r.url}" if r.ok else f"FAILED  {r.url}: {r.error}")
    return 0 if all(r.ok for r in results) else 1


def cmd_hook(args: argparse.Namespace) -> int:
    from cockpit.hook import main as hook_main

    return hook_main(["--codex", args.codex] if args.codex is not None else [])


def cmd_wrap(args: argparse.Namespace) -> int:
    return wrap.run_args(args, _load(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

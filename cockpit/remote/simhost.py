"""A simulated host for the hosts benchmark: it speaks ``serve --stdio``'s protocol with made-up agents.

``python -m cockpit.remote.simhost --agents 100 --every 2 serve --stdio``: a hello, then a report
of ``--agents`` healthy agents (and a few findings) every ``--every`` seconds, each stamped with
its ``sent_at``, so the receiving cockpit's cost and latency can be measured without a thousand
real agents. Requests get a refusal saying what this is. Ends at EOF on stdin.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time

from cockpit import __version__
from cockpit.remote.protocol import OPS, PROTOCOL


def report(seq: int, agents: int, now: float) -> dict[str, object]:
    """Report ``seq``: one agent in seven working (a different one each time), its tokens growing."""
    rows = [{"name": f"sim-{i:04d}", "kind": "claude-code", "status": "idle" if (i + seq) % 7 else "working",
             "pid": 10000 + i, "pane": f"%{i}", "port": None, "port_listening": None,
             "route_session": None, "disk_session": f"{i:08x}-0000-4000-8000-000000000000",
             "last_turn_at": "2026-12-03T08:00:00Z", "restarts": i % 3, "host": None,
             "tokens": {"input": 1000 + i, "output": 200 + (seq + i) // 7, "cache_read": 0, "cache_write": 0}}
            for i in range(agents)]
    findings = [{"kind": "agent_down", "severity": "warning", "agent": f"sim-{i:04d}", "summary": f"sim-{i:04d} exited",
                 "evidence": {"state": "down"}, "action": "respawn"} for i in range(0, agents, 50)]
    from datetime import datetime, timezone
    return {"type": "report", "schema": 1, "at": datetime.fromtimestamp(now, timezone.utc).isoformat(),
            "agents": rows, "findings": findings, "wrappers": [], "reminders": [], "blocks": [], "hosts": [],
            "seq": seq, "sent_at": now, "leader": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simhost")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--every", type=float, default=2.0)
    args, _ = parser.parse_known_args(argv)  # what a cockpit would be given (serve --stdio ...): ignored
    out = sys.stdout
    out.write(json.dumps({"type": "hello", "protocol": PROTOCOL, "schema": 1, "version": f"{__version__}+sim",
                          "leader": True, "read_only": False, "tick_s": args.every, "ops": list(OPS),
                          "tmux": ["-L", "simhost"], "session": "agents"}) + "\n")
    out.flush()
    seq = 0
    due = time.monotonic()
    buffered = b""
    while True:
        timeout = max(0.0, due - time.monotonic())
        ready, _, _ = select.select([0], [], [], timeout)
        if ready:
            chunk = os.read(0, 65536)
            if not chunk:
                return 0
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                try:
                    rid = json.loads(line).get("id")
                except (ValueError, AttributeError):
                    rid = None
                out.write(json.dumps({"type": "result", "id": rid, "ok": False,
                                      "error": "a simulated host (benchmark) acts on nothing"}) + "\n")
                out.flush()
            continue
        seq += 1
        out.write(json.dumps(report(seq, args.agents, time.time()), separators=(",", ":")) + "\n")
        out.flush()
        due += args.every


if __name__ == "__main__":
    sys.exit(main())

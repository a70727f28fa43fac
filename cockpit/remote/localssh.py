"""A local command in place of ``ssh`` (``cockpit demo --hosts N``, the hosts benchmark).

``python -m cockpit.remote.localssh [--host NAME] [--down-between START END] [-t|-T] COMMAND`` does
on this machine what ssh and the remote sshd do together: ``COMMAND`` (one word, as ssh sends it)
is run by ``sh -c`` with this process's stdin, stdout and stderr. With ``--down-between`` the
"host" is unreachable in that window of epoch seconds: a connection is refused, and a session
running when the window opens is cut, with the words ssh would print. Exit status 255, as ssh's.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

POLL_S = 0.25


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localssh", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--down-between", nargs=2, type=float, metavar=("START", "END"))
    parser.add_argument("-t", action="store_true", help="ignored (a terminal is whatever this one has)")
    parser.add_argument("-T", action="store_true", help="ignored")
    parser.add_argument("command", help="the remote command, one word, run by sh -c")
    args = parser.parse_args(argv)
    start, end = args.down_between or (float("inf"), float("inf"))

    def down() -> bool:
        return start <= time.time() < end

    if down():
        print(f"ssh: connect to host {args.host} port 22: Connection refused", file=sys.stderr, flush=True)
        return 255
    child = subprocess.Popen(["sh", "-c", args.command], start_new_session=True)
    signal.signal(signal.SIGTERM, lambda *_: _end(child, signal.SIGTERM))
    signal.signal(signal.SIGHUP, lambda *_: _end(child, signal.SIGHUP))
    while True:
        try:
            code = child.wait(timeout=POLL_S)
            return code if code >= 0 else 255
        except subprocess.TimeoutExpired:
            pass
        if down():
            _end(child, signal.SIGKILL, exit_code=None)
            print(f"Connection to {args.host} closed by remote host.", file=sys.stderr, flush=True)
            return 255


def _end(child: subprocess.Popen[bytes], sig: int, exit_code: int | None = 255) -> None:
    try:
        os.killpg(child.pid, sig)  # our unreaped child leads its own group
    except ProcessLookupError:
        pass
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    if exit_code is not None:
        sys.exit(exit_code)


if __name__ == "__main__":
    sys.exit(main())

"""Attach the operator's terminal to an agent's pane.

Outside tmux the TUI suspends and runs ``tmux attach-session`` on the agents'
server after selecting the pane's window; it comes back when the operator
detaches. Inside a client of the same tmux server it switches that client to
the pane instead (the cockpit keeps running in its own window). Always an argv
list: tmux's own ``;`` separates the commands, no shell is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence


@dataclass(frozen=True)
class AttachPlan:
    argv: tuple[str, ...]
    env: dict[str, str] | None  # None: inherit the cockpit's environment
    suspend: bool               # the TUI must give the terminal to the command until it exits


def tmux_client_socket(env: Mapping[str, str]) -> str | None:
    """The socket of the tmux server whose client runs us (``$TMUX`` is ``socket,pid,session``)."""
    value = env.get("TMUX")
    if not value:
        return None
    return value.split(",", 1)[0] or None


def attach_plan(server_args: Sequence[str], session: str, pane: str, *, env: Mapping[str, str],
                server_socket: str | None, tmux_bin: str = "tmux") -> AttachPlan:
    """How to bring the operator to ``pane`` of ``session`` on the agents' server (``server_args``).

    ``server_socket`` is the agents' server socket path as tmux reports it (``#{socket_path}``):
    when the cockpit runs in a client of that very server, ``switch-client`` moves that client.
    Inside another tmux server, the attach is nested, so ``$TMUX`` is dropped for the child.
    """
    select = ("select-window", "-t", pane, ";", "select-pane", "-t", pane)
    client_socket = tmux_client_socket(env)
    if client_socket is not None and server_socket is not None and client_socket == server_socket:
        return AttachPlan((tmux_bin, *server_args, *select, ";", "switch-client", "-t", pane), None, suspend=False)
    child_env = None
    if client_socket is not None:
        child_env = {k: v for k, v in env.items() if k != "TMUX"}
    argv = (tmux_bin, *server_args, *select, ";", "attach-session", "-t", f"={session}")
    return AttachPlan(argv, child_env, suspend=True)

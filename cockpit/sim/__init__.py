"""A simulated Claude Code agent that behaves like the real CLI on disk (see ``cockpit.sim.agent``).

Run it as ``cockpit-sim`` or ``python -m cockpit.sim``.
"""

from cockpit.sim.agent import MODEL, VERSION, main

__all__ = ["MODEL", "VERSION", "main"]

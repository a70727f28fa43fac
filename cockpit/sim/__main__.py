"""``python -m cockpit.sim``: the simulated Claude Code agent (same as the ``cockpit-sim`` script)."""

import sys

from cockpit.sim.agent import main

sys.exit(main())

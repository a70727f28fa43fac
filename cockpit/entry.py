"""The ``cockpit`` console script: ``cockpit hook`` without the rest of the command line's imports.

Agents run ``cockpit hook`` on every hook (SPEC §8), so that one subcommand must start in a few
tens of milliseconds: it is dispatched here, before ``cockpit.cli`` (argparse, asyncio, the config
reader, doctor, wrap) is imported. Everything else goes to ``cockpit.cli.main``.
"""

from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:2] == ["hook"]:
        from cockpit.hook import main as hook_main

        return hook_main(sys.argv[2:])
    from cockpit.cli import main as cli_main

    return cli_main()

"""The README stays true: its config parses, its commands exist, its two fresh-machine commands are there."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from cockpit.cli import build_parser
from cockpit.config import parse_config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_readme_config_example_parses():
    [block] = re.findall(r"```toml\n(.*?)```", README, re.S)
    config = parse_config(tomllib.loads(block), env={"HOME": "/home/op"})
    assert config.agents[0].name == "tabs" and config.wrappers and config.logs and config.canaries


def test_every_command_the_readme_shows_exists():
    shown = set(re.findall(r"^cockpit ([a-z-]+)", README, re.M)) - {"--version"}
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
    assert shown <= commands and {"demo", "check", "respawn", "repoint", "reap", "wrap", "bench"} <= shown


def test_the_two_fresh_machine_commands():
    assert 'pip install -e ".[dev]" && cockpit demo' in README
    assert "```sh\npython -m pytest -q -n 2\n```" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "\npython -m pytest -q -n 2\n" in ci  # CI runs the README's test command

"""cockpit doctor on the REAL Claude Code CLI (2.1.197), offline: a clear verdict with the screen as evidence.

What the real CLI shows here, studied in a private tmux pane with no network
(``ANTHROPIC_BASE_URL`` and the HTTPS proxy pointing at a closed local port):

- with a seeded ``$CLAUDE_CONFIG_DIR/.claude.json`` (onboarding done, API key approved, folder
  trusted: ``tests.realclaude.seed_claude_config``) it boots to its prompt in about a second and
  stays there (``❯`` between two rules, footer ``? for shortcuts``); nothing on screen matches the
  default fail patterns. Verdict: PASS (ready pattern ``\\? for shortcuts``), and the link is promoted.
- as a first run (the doctor's default: a fresh temp HOME, nothing seeded) it checks connectivity,
  prints ``Unable to connect to Anthropic services`` / ``Failed to connect to api.anthropic.com:
  ECONNREFUSED`` under its welcome banner and exits 1. Verdict: FAIL, with that line as the fail
  pattern hit, exit status 1 as a second problem, the link untouched.
- with production flags that cannot work (``--resume`` of an unknown session) it prints
  ``No conversation found with session ID: X`` and exits 1: FAIL as a dead pane.

Skipped when the CLI is not installed (``bash .ci/install-claude.sh``), except under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path

import pytest

from cockpit.config import parse_config
from cockpit.doctor import run_doctor
from cockpit.observe.drift import PromotionLog

try:
    from tests.realclaude import CLAUDE_VERSION, PROMPT_MARKERS, PROMPT_READY, claude_bin, claude_env, seed_claude_config
except ImportError:  # tests/ is on sys.path itself
    from realclaude import CLAUDE_VERSION, PROMPT_MARKERS, PROMPT_READY, claude_bin, claude_env, seed_claude_config

pytestmark = [pytest.mark.realclaude, pytest.mark.timeout(180)]

READY = PROMPT_READY
OFFLINE_ERROR = "Unable to connect to Anthropic services"
SOCKET_DIR = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"


@pytest.fixture(scope="module")
def claude() -> Path:
    binary = claude_bin()
    if binary is None:
        reason = ("real Claude Code CLI not installed: run `bash .ci/install-claude.sh` "
                  "(or set COCKPIT_CLAUDE_BIN to a claude binary)")
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " [CI=true: not skipping]")
        pytest.skip(reason)
    return binary


def closed_port_url() -> str:
    """A local port nobody listens on: the API, the proxy, everything is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def place(tmp_path: Path) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    old = tmp_path / "versions" / "2.1.196"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\nexit 0\n")
    old.chmod(0o755)
    link = bin_dir / "claude"
    os.symlink(old, link)
    return {"root": tmp_path, "link": link, "old": old, "state": tmp_path / "state"}


def doctor_config(state: Path, **doctor: object):
    return parse_config({"state": {"dir": str(state)},
                         "doctor": {"boot_s": 60.0, "ready_pattern": READY, **doctor}})


def doctor_sockets() -> set[str]:
    try:
        return {p.name for p in SOCKET_DIR.iterdir() if p.name.startswith("cockpit-doctor-")}
    except OSError:
        return set()


def test_real_claude_booting_to_its_prompt_passes_and_is_promoted(claude: Path, place: dict) -> None:
    home = place["root"] / "home"
    cfg = home / ".claude-cfg"
    cwd = place["root"] / "proj"
    cwd.mkdir(parents=True)
    seed_claude_config(cfg, cwd)
    env = claude_env(home, cfg, closed_port_url())
    config = doctor_config(place["state"], args=["--append-system-prompt", "Hold positions when the data supports them."])
    before = doctor_sockets()
    result = asyncio.run(run_doctor(claude, config, promote=place["link"], home=home, cwd=cwd, env=env))
    assert result.passed, result.screen
    assert result.reason == "ready" and result.ready is True and result.hits == () and result.exit_status is None
    assert f"Claude Code v{CLAUDE_VERSION}" in result.screen and "❯" in result.screen
    assert any(m in result.screen for m in PROMPT_MARKERS)
    assert result.elapsed_s < 30
    # promoted: the link now says exactly the candidate, and the record carries the screen's digest
    assert os.readlink(place["link"]) == str(claude)
    assert result.promotion is not None and result.promotion.verified and result.promotion.old_target == str(place["old"])
    [row] = PromotionLog.in_state_dir(place["state"]).read_all().rows
    assert row["new_target"] == str(claude) and row["screen_sha256"] == result.screen_sha256
    assert f"Claude Code v{CLAUDE_VERSION}" in Path(row["screen_file"]).read_text()
    assert doctor_sockets() == before


def test_real_claude_first_run_offline_fails_on_its_connectivity_error(claude: Path, place: dict) -> None:
    closed = closed_port_url()
    config = doctor_config(place["state"], fail_patterns=["Error", "is not a function", "sandbox", "Traceback",
                                                          OFFLINE_ERROR])
    env = {"ANTHROPIC_BASE_URL": closed, "HTTPS_PROXY": closed, "HTTP_PROXY": closed, "https_proxy": closed,
           "http_proxy": closed, "NO_PROXY": "", "no_proxy": "", "ANTHROPIC_API_KEY": "", "NO_COLOR": "1"}
    result = asyncio.run(run_doctor(claude, config, promote=place["link"], env=env))  # default: a fresh temp HOME
    assert not result.passed and result.isolated_home
    assert result.reason == "fail_pattern" and [h.pattern for h in result.hits] == [OFFLINE_ERROR]
    assert result.hits[0].line == OFFLINE_ERROR
    assert result.exit_status == 1 and any("exit status 1" in p for p in result.problems)
    assert f"Welcome to Claude Code v{CLAUDE_VERSION}" in result.screen and "Failed to connect to api.anthropic.com" in result.screen
    assert os.readlink(place["link"]) == str(place["old"])  # untouched
    assert PromotionLog.in_state_dir(place["state"]).read_all().rows == []


def test_real_claude_with_flags_that_cannot_work_dies_and_fails(claude: Path, place: dict) -> None:
    home = place["root"] / "home"
    cfg = home / ".claude-cfg"
    cwd = place["root"] / "proj"
    cwd.mkdir(parents=True)
    seed_claude_config(cfg, cwd)
    missing = str(uuid.uuid4())
    config = doctor_config(place["state"], args=["--resume", missing])
    result = asyncio.run(run_doctor(claude, config, home=home, cwd=cwd, env=claude_env(home, cfg, closed_port_url())))
    assert not result.passed and result.reason == "dead_pane" and result.exit_status == 1
    assert f"No conversation found with session ID: {missing}" in result.screen

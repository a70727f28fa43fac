"""Helpers to run the REAL Claude Code CLI (npm ``@anthropic-ai/claude-code`` 2.1.197) offline.

Install it with ``bash .ci/install-claude.sh`` (into ``.ci/claude``, git-ignored) or point
``COCKPIT_CLAUDE_BIN`` at a binary. Always run it with a temp ``HOME`` and ``CLAUDE_CONFIG_DIR``
(:func:`claude_env`) and against :class:`tests.messages_stub.MessagesStub`.

Quirks of 2.1.197 seen on this machine (documented here, asserted in
tests/test_real_claude_boot.py where it matters):

- The npm package ships a native ELF binary: ``node_modules/.bin/claude`` is a symlink to
  ``@anthropic-ai/claude-code/bin/claude.exe`` (the process's comm is ``claude.exe``, not
  ``claude``, and its argv[0] is the symlink path you ran). ~235 MB installed.
- ``-p`` mode against the stub: exits 0 in ~0.8 s. stdout is stream-json: ``system/init``
  (with ``session_id``, ``cwd``, ``model``, ``claude_code_version``...), one ``assistant`` line,
  a final ``result`` line (``subtype: "success"``, ``is_error: false``, ``num_turns: 1``,
  ``result`` = the stub's text, ``total_cost_usd`` non-zero since it prices the default model).
  Requests it makes: ``HEAD /`` (a reachability probe) then ``POST /v1/messages?beta=true``
  (note the query string) with ``"stream": true``.
  The transcript (``entrypoint: "sdk-cli"``, ``promptSource: "sdk"``) holds ``queue-operation``
  enqueue/dequeue lines (no uuid), ``user``, ``attachment`` lines, ``assistant``, and a
  ``last-prompt`` line WITHOUT timestamp at the end; NO ``system/turn_duration`` in -p mode.
  ``gitBranch`` is ``"HEAD"`` outside a git repository.
- First run writes ``$CLAUDE_CONFIG_DIR/.claude.json`` (``firstStartTime``, ``userID``,
  ``machineID``, migration flags) and ``$CLAUDE_CONFIG_DIR/backups/``; with CLAUDE_CONFIG_DIR
  set, ``.claude.json`` lives INSIDE the config dir, not in ``$HOME``.
- Interactive: see :data:`PROMPT_MARKERS` and the module-level notes filled in below
  (``INTERACTIVE_NOTES``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
CLAUDE_VERSION = "2.1.197"
DEFAULT_BIN = REPO / ".ci" / "claude" / "node_modules" / ".bin" / "claude"
TEST_API_KEY = "sk-ant-api03-cockpit-test-key-0123456789abcdefghijklmnopqrstuvwxyz-AAAAAA"

# What the interactive CLI shows once it is ready for input (tmux capture-pane -p text).
PROMPT_MARKERS = ("? for shortcuts",)
INTERACTIVE_NOTES = ""


def claude_bin() -> Path | None:
    """The real CLI: ``$COCKPIT_CLAUDE_BIN``, else ``<repo>/.ci/claude/node_modules/.bin/claude``.

    None when it is not there or not executable.
    """
    env = os.environ.get("COCKPIT_CLAUDE_BIN")
    candidates = [Path(env).expanduser()] if env else []
    candidates.append(DEFAULT_BIN)
    for cand in candidates:
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def seed_claude_config(config_dir: str | os.PathLike[str], cwd: str | os.PathLike[str], api_key: str = TEST_API_KEY,
                       *, extra_projects: list[str] | None = None) -> Path:
    """Write ``config_dir/.claude.json`` so the interactive CLI boots straight to its prompt.

    Skips: onboarding/theme picker (``hasCompletedOnboarding``, ``theme``), "Detected a custom API
    key, do you want to use it?" (``customApiKeyResponses.approved`` = the key's last 20 chars),
    the folder trust dialog (``projects[cwd].hasTrustDialogAccepted``) and a few one-time tips.
    Also writes ``config_dir/settings.json`` without anything that would phone home.
    """
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    project_entry = {
        "allowedTools": [],
        "hasTrustDialogAccepted": True,
        "hasCompletedProjectOnboarding": True,
        "projectOnboardingSeenCount": 1,
        "hasClaudeMdExternalIncludesApproved": False,
        "hasClaudeMdExternalIncludesWarningShown": True,
    }
    projects = {}
    for path in [str(cwd), *(extra_projects or [])]:
        projects[path] = dict(project_entry)
        real = os.path.realpath(path)
        projects.setdefault(real, dict(project_entry))
    data: dict[str, Any] = {
        "numStartups": 1,
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": CLAUDE_VERSION,
        "theme": "dark",
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        "bypassPermissionsModeAccepted": False,
        "hasSeenTasksHint": True,
        "autoUpdates": False,
        "projects": projects,
    }
    path = config_dir / ".claude.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def claude_env(home: str | os.PathLike[str], config_dir: str | os.PathLike[str], stub_url: str,
               api_key: str = TEST_API_KEY, **extra: str) -> dict[str, str]:
    """A clean environment for the real CLI: temp HOME and config dir, the stub, no phoning home."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "USER": os.environ.get("USER", "cockpit"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm-256color",
        "SHELL": "/bin/bash",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "XDG_CONFIG_HOME": str(Path(home) / ".config"),
        "XDG_CACHE_HOME": str(Path(home) / ".cache"),
        "XDG_DATA_HOME": str(Path(home) / ".local" / "share"),
        "XDG_STATE_HOME": str(Path(home) / ".local" / "state"),
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_BASE_URL": stub_url,
        "ANTHROPIC_API_KEY": api_key,
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": "1",
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env

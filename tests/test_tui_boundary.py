"""The domain runs without the TUI: nothing outside cockpit/tui imports textual (Harlequin's contract)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cockpit

PACKAGE = Path(cockpit.__file__).resolve().parent
TUI = PACKAGE / "tui"


def imports_textual(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(alias.name == "textual" or alias.name.startswith("textual.") for alias in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "textual" or node.module.startswith("textual."):
                lines.append(node.lineno)
    return lines


def test_nothing_outside_the_tui_package_imports_textual():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if TUI in path.resolve().parents:
            continue
        for line in imports_textual(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    assert offenders == [], "textual imported outside cockpit/tui: " + ", ".join(offenders)


def test_the_scan_would_catch_a_textual_import():
    assert imports_textual(ast.parse("import textual.app\nfrom textual.widgets import DataTable\n")) == [1, 2]
    assert imports_textual(ast.parse("import textwrap\nfrom .textual import x\n")) == []


def test_importing_the_supervisor_and_the_cli_does_not_load_textual():
    code = (
        "import sys\n"
        "import cockpit.supervisor, cockpit.cli, cockpit.config, cockpit.act.actions\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_tui_package_finds_its_stylesheet_through_the_package():
    from importlib.resources import files

    sheet = files("cockpit") / "styles" / "cockpit.tcss"
    assert sheet.is_file() and "#agents" in sheet.read_text(encoding="utf-8")

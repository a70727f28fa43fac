"""No function in cockpit/ is longer than 80 lines (the simulator excepted): one screen, one idea."""

from __future__ import annotations

import ast
from pathlib import Path

import cockpit

PACKAGE = Path(cockpit.__file__).resolve().parent
MAX_LINES = 80
EXEMPT = (PACKAGE / "sim",)  # the simulator plays a whole CLI: its long scripted turns are data


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """(name, first line, length) of every function or method longer than ``limit`` lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                found.append((node.name, node.lineno, length))
    return found


def test_no_function_in_cockpit_is_over_80_lines():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if any(root in path.parents for root in EXEMPT):
            continue
        for name, line, length in long_functions(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} {name} ({length} lines)")
    assert offenders == [], "split these: " + ", ".join(offenders)


def test_the_count_would_catch_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    assert long_functions(f"def long():\n{body}\n") == [("long", 1, 81)]
    assert long_functions(f"def fits():\n{body[:-len(chr(10) + '    x79 = 79')]}\n") == []
    assert long_functions(f"class A:\n    async def m(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n") == [
        ("m", 2, 81)]

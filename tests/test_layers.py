"""The layers of the pipeline, as contracts: observe -> judge -> plan -> act, the TUI on top.

- ``cockpit/judge/`` (the judges and the plan) is pure: it imports no ``os``, ``subprocess``,
  ``asyncio``, ``threading``, ``socket``, ``signal``, ``shutil`` or ``time`` (time is handed in), nothing
  of ``act``, ``tui``, the supervisor or textual, and of the layers below it only their data (frozen
  dataclasses, enums, constants): never a reader, a store or a client.
- ``cockpit/observe/`` imports no ``act``, no ``judge`` (a rule the observer needs is handed in by
  whoever builds it), no ``tui`` and no supervisor.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import importlib.util
import inspect
from pathlib import Path

import cockpit

PACKAGE = Path(cockpit.__file__).resolve().parent

IMPURE_MODULES = ("os", "subprocess", "asyncio", "threading", "socket", "signal", "shutil", "time")
JUDGE_NEVER = ("cockpit.act", "cockpit.tui", "cockpit.supervisor", "cockpit.cli", "textual")
OBSERVE_NEVER = ("cockpit.act", "cockpit.judge", "cockpit.tui", "cockpit.supervisor", "cockpit.cli", "textual")
# Modules a judge may take anything from: pure by construction.
PURE_MODULES = ("cockpit.judge", "cockpit.findings", "cockpit.lifecycle", "cockpit.config", "cockpit.timefmt")
# Pure functions that still live beside a reader (a timestamp parser, a version in a path).
PURE_HELPERS = {("cockpit.observe.drift", "version_hint")}


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module, not a module
        return False


def imports(source: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """Every absolute import of a source: (line, module, names taken from it); ``from pkg import module``
    is the whole module (no names), as ``import pkg.module`` is."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = []
            for alias in node.names:
                whole = f"{node.module}.{alias.name}"
                if node.module.split(".")[0] == "cockpit" and _is_module(whole):
                    found.append((node.lineno, whole, ()))
                else:
                    names.append(alias.name)
            if names or not node.names:
                found.append((node.lineno, node.module, tuple(names)))
    return found


def is_data(value: object) -> bool:
    """A frozen-or-plain dataclass, an enum, a protocol or a constant: something a judge may read."""
    if inspect.isclass(value):
        return (dataclasses.is_dataclass(value) or issubclass(value, enum.Enum)
                or getattr(value, "_is_protocol", False) or issubclass(value, tuple))
    return not callable(value) and not inspect.ismodule(value)


def judge_violations(source: str) -> list[str]:
    out = []
    for line, module, names in imports(source):
        if module.split(".")[0] in IMPURE_MODULES:
            out.append(f"{line}: imports {module} (a judge does no I/O and reads no clock)")
        elif _under(module, JUDGE_NEVER):
            out.append(f"{line}: imports {module}")
        elif module.startswith("cockpit.") and not _under(module, PURE_MODULES):
            if not names:
                out.append(f"{line}: imports {module} whole (take its data by name)")
                continue
            taken = importlib.import_module(module)
            for name in names:
                value = getattr(taken, name, None)
                if (module, name) not in PURE_HELPERS and not is_data(value):
                    out.append(f"{line}: takes {module}.{name}, which is not data")
    return out


def observe_violations(source: str) -> list[str]:
    return [f"{line}: imports {module}" for line, module, _ in imports(source) if _under(module, OBSERVE_NEVER)]


def _scan(folder: str, check) -> list[str]:
    offenders = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for problem in check(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{problem}")
    return offenders


def test_judges_and_the_plan_are_pure():
    assert _scan("judge", judge_violations) == []


def test_observe_imports_no_act_and_no_judge():
    assert _scan("observe", observe_violations) == []


def test_the_contract_catches_a_judge_that_imports_os_or_a_reader():
    assert judge_violations("import os\n") == ["1: imports os (a judge does no I/O and reads no clock)"]
    assert judge_violations("from asyncio import sleep\nimport subprocess\n")[1].startswith("2: imports subprocess")
    assert judge_violations("from cockpit.act.actions import ActionLayer\n") == ["1: imports cockpit.act.actions"]
    assert judge_violations("from cockpit.observe.sessions import SessionObserver\n") == [
        "1: takes cockpit.observe.sessions.SessionObserver, which is not data"]
    assert judge_violations("from cockpit.observe.sessions import SessionTruth, EVIDENCE_LIST\n") == []
    assert judge_violations("from cockpit.registry import Registry\n") == [
        "1: takes cockpit.registry.Registry, which is not data"]
    assert judge_violations("from cockpit import supervisor\nimport cockpit.observe.sessions\n") == [
        "1: imports cockpit.supervisor", "2: imports cockpit.observe.sessions whole (take its data by name)"]
    assert judge_violations("from cockpit import timefmt, lifecycle\n") == []


def test_the_contract_catches_observe_importing_act_or_judge():
    assert observe_violations("from cockpit.act.reap import Reaper\nimport cockpit.judge.plan\n") == [
        "1: imports cockpit.act.reap", "2: imports cockpit.judge.plan"]
    assert observe_violations("from cockpit.registry import Tail\n") == []
    assert observe_violations("from cockpit.judge import plan\n") == ["1: imports cockpit.judge.plan"]

"""cockpit doctor (seed #1): boot the candidate in a throwaway pane, judge the screen, promote only after a pass."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from cockpit.config import Config, DoctorConfig, parse_config
from cockpit.doctor import (DoctorInputError, DoctorResult, PromotionError, add_arguments, check_candidate,
                            cli_of_agent, judge_screen, nearby_candidates, promote_after_pass, promote_candidate,
                            run_args, run_doctor, validate_candidate)
from cockpit.observe.drift import PromotionLog
from cockpit.registry import Journal

pytestmark = pytest.mark.timeout(60)

SOCKET_DIR = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture
def place(tmp_path: Path) -> dict:
    versions = tmp_path / "share" / "claude" / "versions"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    old = script(versions / "2.1.196", 'echo "old cli"; sleep 60\n')
    link = bin_dir / "claude"
    os.symlink(old, link)
    state = tmp_path / "state"
    return {"root": tmp_path, "versions": versions, "old": old, "link": link, "state": state}


def config_for(state: Path, **doctor: object) -> Config:
    table = {"boot_s": 2.0, **doctor}
    return parse_config({"state": {"dir": str(state)}, "doctor": table})


def cli(argv: list[str], config: Config, *, read_only: bool = False) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="cockpit doctor")
    add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run_args(parser.parse_args(argv), config, read_only=read_only, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def doctor_sockets() -> set[str]:
    try:
        return {p.name for p in SOCKET_DIR.iterdir() if p.name.startswith("cockpit-doctor-")}
    except OSError:
        return set()


def promotions(state: Path) -> list[dict]:
    return PromotionLog.in_state_dir(state).read_all().rows


def journal_rows(state: Path) -> list[dict]:
    return Journal(state / "journal.jsonl").read_all().rows


def alive(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2:raw.rfind(b")") + 3] not in (b"Z", b"X")


# --- failing candidates leave LINK untouched -------------------------------------------------------


def test_candidate_printing_is_not_a_function_fails_and_link_is_untouched(place: dict) -> None:
    # seed #1: the regressed CLI booted just far enough to print its TypeError, then sat there.
    bad = script(place["versions"] / "2.1.197", 'echo "file:///cli.js:9251"\n'
                 'echo "TypeError: g9H is not a function"\nsleep 60\n')
    before = doctor_sockets()
    code, out, err = cli([str(bad), "--promote", str(place["link"])], config_for(place["state"], boot_s=10.0))
    assert code == 1
    assert out.startswith(f"FAIL {bad}: fail pattern")
    assert "--- captured screen" in out and "TypeError: g9H is not a function" in out
    assert f"{place['link']} untouched (still -> {place['old']})" in out
    assert os.readlink(place["link"]) == str(place["old"])
    assert promotions(place["state"]) == []
    assert doctor_sockets() == before
    [row] = [r for r in journal_rows(place["state"]) if r.get("action") == "doctor"]
    assert row["result"] == "fail" and row["evidence"]["reason"] == "fail_pattern"
    assert {h["pattern"] for h in row["evidence"]["hits"]} == {"Error", "is not a function"}
    assert not [r for r in journal_rows(place["state"]) if r.get("action") == "promote"]
    assert err.startswith("cockpit doctor: booting ")


def test_candidate_that_exits_at_once_fails_as_a_dead_pane(place: dict) -> None:
    quick = script(place["versions"] / "2.1.198", 'echo "sandbox init skipped"; exit 0\n')
    result = asyncio.run(check_candidate(quick, DoctorConfig(boot_s=5.0, fail_patterns=())))
    assert not result.passed and result.reason == "dead_pane"
    assert result.exit_status == 0  # exiting cleanly at once is still "did not boot"
    assert "sandbox init skipped" in result.screen and "Pane is dead" in result.screen
    assert result.elapsed_s < 3.0


def test_dead_pane_with_a_status_and_a_fail_pattern_reports_both(place: dict) -> None:
    crash = script(place["versions"] / "2.1.199", 'echo "Error: sandbox required but unavailable" >&2; exit 3\n')
    result = asyncio.run(check_candidate(crash, DoctorConfig(boot_s=5.0)))
    assert not result.passed and result.reason == "fail_pattern" and result.exit_status == 3
    assert any("exit status 3" in p for p in result.problems)
    assert {h.pattern for h in result.hits} == {"Error", "sandbox"}


def test_missing_ready_pattern_fails_after_boot_s(place: dict) -> None:
    slow = script(place["versions"] / "2.2.0", 'echo "loading"; sleep 60\n')
    result = asyncio.run(check_candidate(slow, DoctorConfig(boot_s=1.0, ready_pattern=r"^> $")))
    assert not result.passed and result.reason == "not_ready" and result.ready is False
    assert 1.0 <= result.elapsed_s < 4.0


def test_prompt_then_crash_is_not_a_pass(place: dict) -> None:
    flaky = script(place["versions"] / "2.2.1", 'echo "? for shortcuts"; sleep 0.3\n'
                   'echo "g9H is not a function at cli.js:9251"; sleep 60\n')
    result = asyncio.run(check_candidate(flaky, DoctorConfig(boot_s=10.0, ready_pattern=r"\? for shortcuts")))
    assert not result.passed and result.reason == "fail_pattern" and result.ready is True


# --- a good candidate is promoted atomically, verified, recorded ------------------------------------


def test_good_candidate_passes_and_is_promoted_atomically(place: dict) -> None:
    good = script(place["versions"] / "2.1.197", 'echo "HOME=$HOME AUTOUPDATE_OFF=$DISABLE_AUTOUPDATER"\n'
                  'for a in "$@"; do echo "arg[$a]"; done\necho "> "\nsleep 60\n')
    config = config_for(place["state"], args=["--resume", "--dangerously-load-development-channels",
                                              "--append-system-prompt", "Hold positions when data supports."],
                        ready_pattern="^> ?$")
    before = doctor_sockets()
    code, out, _ = cli([str(good), "--promote", str(place["link"])], config)
    assert code == 0, out
    assert os.readlink(place["link"]) == str(good)  # verify: readlink equals the candidate
    assert f"promoted {place['link']}: {place['old']} -> {good} (readlink verified)" in out
    [row] = promotions(place["state"])
    assert row["kind"] == "promotion" and row["old_target"] == str(place["old"]) and row["new_target"] == str(good)
    assert row["resolved"] == str(good) and row["version"] == "2.1.197"
    screen_file = Path(row["screen_file"])
    assert stat.S_IMODE(screen_file.stat().st_mode) == 0o600
    screen = screen_file.read_text().split("\n", 3)[3].rstrip("\n")
    assert hashlib.sha256(screen.encode()).hexdigest() == row["screen_sha256"]
    # the production flags reached it, whole; its HOME was a throwaway one; it could not auto-update
    assert "arg[Hold positions when data supports.]" in screen and "arg[--resume]" in screen
    assert "AUTOUPDATE_OFF=1" in screen
    home = screen.split("HOME=", 1)[1].split()[0]
    assert "cockpit-doctor-home-" in home and not os.path.exists(home)
    [promote] = [r for r in journal_rows(place["state"]) if r.get("action") == "promote"]
    assert promote["before"]["target"] == str(place["old"]) and promote["after"]["target"] == str(good)
    assert promote["result"] == "verified" and promote["evidence"]["screen_sha256"] == row["screen_sha256"]
    assert doctor_sockets() == before


def test_without_ready_pattern_alive_after_boot_s_passes(place: dict) -> None:
    good = script(place["versions"] / "3.0.0", 'echo "Welcome"; sleep 60\n')
    result = asyncio.run(check_candidate(good, DoctorConfig(boot_s=1.0)))
    assert result.passed and result.reason == "alive" and result.ready is None
    assert result.elapsed_s >= 1.0 and "Welcome" in result.screen


def _passed(candidate: Path) -> DoctorResult:
    return DoctorResult(candidate=str(candidate), argv=(str(candidate),), passed=True, reason="alive",
                        summary="alive", screen="ok", screen_sha256=hashlib.sha256(b"ok").hexdigest())


def test_promotion_swap_is_atomic_the_link_always_resolves(place: dict) -> None:
    a = script(place["versions"] / "4.0.0", "exit 0\n")
    b = script(place["versions"] / "4.0.1", "exit 0\n")
    link = place["link"]
    stop = threading.Event()
    misses: list[str] = []
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            try:
                target = os.readlink(link)
                os.stat(link)  # resolves to an existing file
            except OSError as exc:
                misses.append(repr(exc))
                continue
            reads[0] += 1
            if target not in (str(place["old"]), str(a), str(b)):
                misses.append(target)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(150):
            promote_candidate(_passed(a if i % 2 else b), link, place["state"])
    finally:
        stop.set()
        thread.join()
    assert misses == [] and reads[0] > 100
    assert os.readlink(link) == str(a)
    assert len(promotions(place["state"])) == 150
    assert not [p for p in link.parent.iterdir() if p.name.startswith(".claude.")]  # no temp link left behind


def test_a_failed_result_is_never_promoted(place: dict) -> None:
    failed = DoctorResult(candidate=str(place["old"]), argv=(), passed=False, reason="dead_pane", summary="died",
                          screen="", screen_sha256="0" * 64)
    with pytest.raises(PromotionError):
        promote_candidate(failed, place["link"], place["state"])
    assert os.readlink(place["link"]) == str(place["old"]) and promotions(place["state"]) == []


# --- bad input: one line, exit 2, nothing booted, nothing changed -----------------------------------


@pytest.mark.parametrize("kind", ["missing", "not_executable", "directory"])
def test_bad_candidate_is_a_one_line_error(place: dict, kind: str) -> None:
    target = place["root"] / "cand"
    if kind == "not_executable":
        target.write_text("#!/bin/sh\n")
        target.chmod(0o644)
    elif kind == "directory":
        target.mkdir()
    before = doctor_sockets()
    code, out, err = cli([str(target), "--promote", str(place["link"])], config_for(place["state"]))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"cockpit doctor: {target}")
    assert os.readlink(place["link"]) == str(place["old"]) and not place["state"].exists()
    assert doctor_sockets() == before


def test_a_real_file_as_link_or_a_self_loop_is_refused_before_booting(place: dict) -> None:
    good = script(place["versions"] / "5.0.0", "sleep 60\n")
    real = place["root"] / "bin" / "real-claude"
    real.write_text("binary")
    code, out, err = cli([str(good), "--promote", str(real)], config_for(place["state"]))
    assert code == 2 and "is a regular file, not a symlink" in err and real.read_text() == "binary"
    with pytest.raises(DoctorInputError, match="loop"):
        asyncio.run(run_doctor(place["link"], config_for(place["state"]), promote=place["link"]))
    assert os.readlink(place["link"]) == str(place["old"])


def test_read_only_refuses_to_promote(place: dict) -> None:
    good = script(place["versions"] / "5.0.1", "sleep 60\n")
    code, _, err = cli([str(good), "--promote", str(place["link"])], config_for(place["state"]), read_only=True)
    assert code == 2 and "read-only" in err
    assert os.readlink(place["link"]) == str(place["old"])


def test_the_tui_way_check_then_promote_on_a_key(place: dict) -> None:
    good = script(place["versions"] / "5.0.2", 'echo "? for shortcuts"; sleep 60\n')
    config = config_for(place["state"], ready_pattern=r"\? for shortcuts")
    phases: list[str] = []

    async def go() -> DoctorResult:
        result = await run_doctor(good, config, progress=lambda e: phases.append(e.phase))
        assert result.passed and result.promotion is None and os.readlink(place["link"]) == str(place["old"])
        with pytest.raises(PromotionError, match="read-only"):
            await promote_after_pass(result, place["link"], config, read_only=True)
        return await promote_after_pass(result, place["link"], config)

    result = asyncio.run(go())
    assert phases[0] == "starting" and "ready" in phases and phases[-1] == "verdict"
    assert result.promotion.verified and os.readlink(place["link"]) == str(good)
    [row] = [r for r in journal_rows(place["state"]) if r.get("action") == "promote"]
    assert row["actor"] == "tui"


def test_a_promote_while_another_cockpit_holds_the_promote_lock_is_a_refusal_not_a_crash(place: dict,
                                                                                         monkeypatch) -> None:
    """The TUI's promote worker catches PromotionError: a busy promote lock must arrive as one."""
    import functools

    import cockpit.doctor as doctor_module
    from cockpit.locks import hold

    good = script(place["versions"] / "5.0.3", 'echo "? for shortcuts"; sleep 60\n')
    config = config_for(place["state"], ready_pattern=r"\? for shortcuts")
    monkeypatch.setattr(doctor_module, "hold", functools.partial(hold, timeout=0.3))  # the real lock, less patience
    held, release = threading.Event(), threading.Event()

    def other_cockpit() -> None:
        with hold(Path(place["state"]) / "promote.lock"):
            held.set()
            release.wait(10)

    async def go() -> None:
        result = await run_doctor(good, config)
        assert result.passed
        thread = threading.Thread(target=other_cockpit)
        thread.start()
        try:
            held.wait(5)
            with pytest.raises(PromotionError, match="promotion failed") as info:
                await promote_after_pass(result, place["link"], config)
            assert info.value.result is result
        finally:
            release.set()
            thread.join()

    asyncio.run(go())
    assert os.readlink(place["link"]) == str(place["old"])  # untouched


def test_json_output(place: dict) -> None:
    good = script(place["versions"] / "6.0.0", 'echo "? for shortcuts"; sleep 60\n')
    code, out, _ = cli([str(good), "--json"], config_for(place["state"], ready_pattern=r"\? for shortcuts"))
    data = json.loads(out)
    assert code == 0 and data["schema"] == 1 and data["verdict"] == "pass" and data["reason"] == "ready"
    assert data["candidate"] == str(good) and data["promotion"] is None and "? for shortcuts" in data["screen"]
    assert data["screen_sha256"] == hashlib.sha256(data["screen"].encode()).hexdigest()


# --- teardown: nothing is left behind, even when cancelled ------------------------------------------


def test_cancelled_doctor_tears_down_its_pane_server_and_candidate(place: dict) -> None:
    pidfile = place["root"] / "pid"
    slow = script(place["versions"] / "7.0.0", f'echo $$ > {pidfile}\ntrap "" HUP\necho booting\nsleep 60\n')
    before = doctor_sockets()
    seen: list[str] = []

    async def go() -> None:
        booting = asyncio.Event()

        def progress(event) -> None:
            seen.append(event.phase)
            if event.phase == "booting" and pidfile.exists():
                booting.set()

        task = asyncio.create_task(check_candidate(slow, DoctorConfig(boot_s=30.0), progress=progress))
        await asyncio.wait_for(booting.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)  # it ignored SIGHUP; the doctor still made sure it is gone
    assert doctor_sockets() == before
    assert "verdict" not in seen


def test_validate_candidate_keeps_the_path_as_given(place: dict) -> None:
    # LINK will point at exactly this path (not its realpath): readlink must equal what the operator passed
    assert validate_candidate(place["link"]) == str(place["link"])


def test_judge_screen_is_pure() -> None:
    hits, ready = judge_screen("a\nTypeError: g9H is not a function\n❯ \n? for shortcuts",
                               fail_patterns=("Error", "Traceback"), ready_pattern=r"\? for shortcuts")
    assert [(h.pattern, h.line) for h in hits] == [("Error", "TypeError: g9H is not a function")] and ready


def test_cli_of_agent_and_nearby_candidates(place: dict) -> None:
    from cockpit.config import AgentConfig
    from types import MappingProxyType

    newer = script(place["versions"] / "2.1.200", "exit 0\n")
    agent = AgentConfig(name="tabs", command=("claude",), kind="claude-code",
                        env=MappingProxyType({"PATH": str(place["link"].parent)}))
    info = cli_of_agent(agent)
    assert info["link"] == str(place["link"]) and info["resolved"] == str(place["old"])
    assert info["version"] == "2.1.196" and info["promote_link"] == str(place["link"])
    assert nearby_candidates(info["resolved"])[:2] == [str(newer), str(place["old"])]

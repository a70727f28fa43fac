"""version_drift (seed #1): an agent CLI that changed since the last promotion that passed."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from types import MappingProxyType

import pytest

from cockpit.config import AgentConfig
from cockpit.doctor import DoctorResult, promote_candidate
from cockpit.findings import Severity
from cockpit.judge.drift import judge_drift
from cockpit.observe.drift import DriftObserver, PromotionLog, link_chain, resolve_command
from cockpit.registry import Journal


def script(path: Path, body: str = "exit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def repoint_behind_our_back(link: Path, target: Path) -> None:
    """What an auto-updater does overnight: nobody ran cockpit doctor."""
    tmp = link.with_name(link.name + ".upd")
    os.symlink(target, tmp)
    os.replace(tmp, link)


@pytest.fixture
def install(tmp_path: Path) -> dict:
    versions = tmp_path / "home" / ".local" / "share" / "claude" / "versions"
    old = script(versions / "2.1.196")
    new = script(versions / "2.1.197")
    bin_dir = tmp_path / "home" / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    link = bin_dir / "claude"
    os.symlink(old, link)
    state = tmp_path / "state"
    agent = AgentConfig(name="tabs", command=("claude", "--resume"), kind="claude-code",
                        env=MappingProxyType({"PATH": f"{bin_dir}:/usr/bin:/bin"}))
    return {"old": old, "new": new, "link": link, "state": state, "agent": agent, "bin": bin_dir}


def observer(install: dict) -> DriftObserver:
    return DriftObserver(install["state"], journal=Journal(install["state"] / "journal.jsonl"))


def test_first_sight_records_a_baseline_and_raises_nothing(install: dict) -> None:
    obs = observer(install)
    [target] = obs.observe([install["agent"]])
    assert target.baseline_recorded and target.resolved == str(install["old"]) and target.version == "2.1.196"
    assert judge_drift([target]) == []
    [row] = PromotionLog.in_state_dir(install["state"]).read_all().rows
    assert row["kind"] == "baseline" and row["resolved"] == str(install["old"]) and row["agents"] == ["tabs"]
    [info] = Journal(install["state"] / "journal.jsonl").read_all().rows
    assert info["kind"] == "info" and "version baseline" in info["summary"]
    # the next ticks read nothing new and write nothing new
    for _ in range(3):
        [again] = obs.observe([install["agent"]])
        assert not again.baseline_recorded and judge_drift([again]) == []
    assert len(PromotionLog.in_state_dir(install["state"]).read_all().rows) == 1


def test_an_overnight_auto_update_is_critical_version_drift(install: dict) -> None:
    obs = observer(install)
    obs.observe([install["agent"]])
    repoint_behind_our_back(install["link"], install["new"])
    [finding] = judge_drift(obs.observe([install["agent"]]))
    assert finding.kind == "version_drift" and finding.severity is Severity.CRITICAL and finding.agent == "tabs"
    ev = finding.evidence
    assert (ev["old_target"], ev["new_target"]) == (str(install["old"]), str(install["new"]))
    assert (ev["old_version"], ev["new_version"], ev["reason"]) == ("2.1.196", "2.1.197", "retargeted")
    assert ev["verify"] == ["cockpit", "doctor", str(install["new"]), "--promote", str(install["link"])]
    assert ev["revert"] == ["cockpit", "doctor", str(install["old"]), "--promote", str(install["link"])]
    assert "nobody promoted it" in finding.summary and str(install["new"]) in finding.summary


def _passed(candidate: Path) -> DoctorResult:
    return DoctorResult(candidate=str(candidate), argv=(str(candidate),), passed=True, reason="ready",
                        summary="ready", screen="❯", screen_sha256=hashlib.sha256("❯".encode()).hexdigest())


def test_a_promotion_that_passed_clears_it_and_is_the_new_reference(install: dict) -> None:
    obs = observer(install)
    obs.observe([install["agent"]])
    repoint_behind_our_back(install["link"], install["new"])
    assert judge_drift(obs.observe([install["agent"]]))
    promote_candidate(_passed(install["new"]), install["link"], install["state"])  # cockpit doctor --promote
    [target] = obs.observe([install["agent"]])
    assert target.expected["kind"] == "promotion" and judge_drift([target]) == []
    # and the next unverified change is judged against that promotion
    newer = script(install["new"].parent / "2.1.198")
    repoint_behind_our_back(install["link"], newer)
    [finding] = judge_drift(obs.observe([install["agent"]]))
    assert finding.evidence["old_target"] == str(install["new"]) and finding.evidence["last_passed"]["kind"] == "promotion"
    assert "last passed promotion" in finding.summary


def test_a_promotion_seen_before_any_tick_is_the_reference(install: dict) -> None:
    promote_candidate(_passed(install["old"]), install["link"], install["state"])
    obs = observer(install)
    [target] = obs.observe([install["agent"]])
    assert not target.baseline_recorded and target.expected["kind"] == "promotion"
    assert judge_drift([target]) == []


def test_an_in_place_rewrite_is_drift(install: dict) -> None:
    # npm installs update the package in place: same path, new file
    obs = observer(install)
    obs.observe([install["agent"]])
    time.sleep(0.01)
    script(install["old"], "echo patched by an updater\nexit 0\n")
    [finding] = judge_drift(obs.observe([install["agent"]]))
    assert finding.evidence["reason"] == "rewritten" and "rewritten in place" in finding.summary


def test_a_dangling_link_is_drift(install: dict) -> None:
    obs = observer(install)
    obs.observe([install["agent"]])
    repoint_behind_our_back(install["link"], install["old"].parent / "2.1.999-partial")
    [finding] = judge_drift(obs.observe([install["agent"]]))
    assert finding.evidence["reason"] == "retargeted" and finding.evidence["exists"] is False
    os.unlink(install["link"])
    os.symlink(install["old"], install["link"])
    install["old"].unlink()
    [missing] = judge_drift(obs.observe([install["agent"]]))
    assert missing.evidence["reason"] == "missing"


def test_an_outer_link_is_matched_through_its_chain(install: dict, tmp_path: Path) -> None:
    # /usr/local/bin/claude -> ~/.local/bin/claude -> versions/X: the promoted link is a later hop
    outer_dir = tmp_path / "usr-local-bin"
    outer_dir.mkdir()
    os.symlink(install["link"], outer_dir / "claude")
    agent = AgentConfig(name="tabs", command=("claude",), kind="claude-code",
                        env=MappingProxyType({"PATH": str(outer_dir)}))
    assert link_chain(resolve_command("claude", str(outer_dir))) == (
        str(outer_dir / "claude"), str(install["link"]), str(install["old"]))
    promote_candidate(_passed(install["old"]), install["link"], install["state"])
    obs = observer(install)
    [target] = obs.observe([agent])
    assert target.expected["kind"] == "promotion" and not target.baseline_recorded
    repoint_behind_our_back(install["link"], install["new"])
    [finding] = judge_drift(obs.observe([agent]))
    assert finding.evidence["verify"][-1] == str(install["link"])


def test_agents_sharing_a_cli_share_one_finding_and_one_baseline(install: dict) -> None:
    a = install["agent"]
    b = AgentConfig(name="mail", command=(str(install["link"]),), kind="claude-code")
    c = AgentConfig(name="sim", command=("python3",), kind="generic")  # not watched: the OS updates interpreters
    obs = observer(install)
    [target] = obs.observe([a, b, c])  # "claude" on PATH and the link's own path are one CLI
    assert target.agents == ("tabs", "mail")
    assert len(PromotionLog.in_state_dir(install["state"]).read_all().rows) == 1
    repoint_behind_our_back(install["link"], install["new"])
    [finding] = judge_drift(obs.observe([a, b, c]))
    assert finding.agent is None and finding.evidence["agents"] == ["tabs", "mail"]
    assert finding.summary.startswith("2 agents: claude changed")


def test_read_only_remembers_the_baseline_without_writing(install: dict) -> None:
    obs = DriftObserver(install["state"])
    obs.observe([install["agent"]], write=False)
    assert not install["state"].exists()
    repoint_behind_our_back(install["link"], install["new"])
    assert [f.kind for f in judge_drift(obs.observe([install["agent"]], write=False))] == ["version_drift"]


def test_a_cli_not_on_path_is_no_finding(install: dict) -> None:
    agent = AgentConfig(name="x", command=("no-such-cli-here",), kind="codex", env=MappingProxyType({"PATH": "/nonexistent"}))
    [target] = DriftObserver(install["state"]).observe([agent])
    assert target.link is None and "not found" in target.error and judge_drift([target]) == []

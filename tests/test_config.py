"""The config: defaults, round trips, one-line errors, expansion, the example file.

Never touches the real user config or ~/.claude: every file lives in tmp_path, and every call gets
an ``env=`` dict instead of reading or mutating os.environ.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.config import (
    DEFAULT_BLOCK_PATTERN,
    DEFAULT_FAIL_PATTERNS,
    DEFAULT_KEYS,
    KEY_BINDING_IDS,
    AgentConfig,
    Canary,
    ClaudeConfig,
    CodexConfig,
    Config,
    ConfigError,
    DoctorConfig,
    LogSource,
    MetricsConfig,
    NotifyConfig,
    RoutesConfig,
    StateConfig,
    SupervisorConfig,
    TmuxConfig,
    WrapperRule,
    find_config_path,
    load_config,
    parse_config,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "cockpit.example.toml"
HOME = "/home/operator"
ENV = {"HOME": HOME}

SINGLETONS: dict[str, type] = {
    "tmux": TmuxConfig, "state": StateConfig, "supervisor": SupervisorConfig, "claude": ClaudeConfig,
    "codex": CodexConfig, "routes": RoutesConfig, "doctor": DoctorConfig,
    "notify": NotifyConfig, "metrics": MetricsConfig,
}
ARRAYS: dict[str, type] = {"agents": AgentConfig, "wrappers": WrapperRule, "logs": LogSource, "canaries": Canary}
ALL_SECTIONS = {**SINGLETONS, **ARRAYS}


def keys_of(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "explicit"]


def agent(**over: Any) -> dict[str, Any]:
    return {"name": "tabs", "command": ["claude"], **over}


def error_of(data: dict[str, Any], env: dict[str, str] | None = None, path: Path | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(data, path=path or Path("/etc/cockpit.toml"), env=ENV if env is None else env)
    return info.value


def write(tmp_path: Path, text: str | bytes, name: str = "cockpit.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- defaults -----------------------------------------------------------------------------------


def test_an_empty_file_gives_every_default(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    cfg = load_config(path, env=ENV)
    assert cfg.path == path
    assert cfg.tmux == TmuxConfig()
    assert cfg.tmux.server_args() == ("-L", "agents")
    assert cfg.state == StateConfig(dir=Path(HOME, ".local/state/cockpit"))
    assert cfg.supervisor == SupervisorConfig()
    assert cfg.claude == ClaudeConfig(config_dir=Path(HOME, ".claude"), explicit=False)
    assert cfg.codex == CodexConfig(home=Path(HOME, ".codex"), explicit=False)
    assert cfg.routes == RoutesConfig(file=None)
    assert cfg.doctor == DoctorConfig()
    assert cfg.doctor.fail_patterns == DEFAULT_FAIL_PATTERNS
    assert (cfg.agents, cfg.wrappers, cfg.logs, cfg.canaries) == ((), (), (), ())
    assert dict(cfg.keys) == {}


def test_supervisor_defaults_are_the_documented_ones() -> None:
    sup = parse_config({}, env=ENV).supervisor
    assert (sup.tick_s, sup.spawn_verify_s, sup.min_uptime_s) == (2.0, 2.0, 1.0)  # SPEC: spawn_verify_s default 2 s
    assert (sup.max_restarts, sup.restart_window_s, sup.backoff_max_s) == (5, 300.0, 30.0)
    assert (sup.max_actions_per_minute, sup.zombie_grace_s, sup.stop_wait_s) == (12, 60.0, 10.0)
    assert (sup.loop_block_ms, sup.heartbeat_budget_s, sup.wake_verify_s, sup.wake_retries) == (250, 90.0, 30.0, 3)
    assert (sup.alert_command, sup.notice_command, sup.auto_respawn, sup.auto_reap) == ((), (), True, True)


@pytest.mark.parametrize("section", sorted(SINGLETONS))
def test_an_empty_section_equals_an_absent_one(section: str) -> None:
    assert getattr(parse_config({section: {}}, env=ENV), section) == getattr(parse_config({}, env=ENV), section)


@pytest.mark.parametrize("section", sorted(ARRAYS))
def test_an_empty_array_equals_an_absent_one(section: str) -> None:
    assert getattr(parse_config({section: []}, env=ENV), section) == ()


def test_optional_keys_of_array_tables_take_their_defaults() -> None:
    cfg = parse_config({
        "agents": [agent()],
        "wrappers": [{"match": "claude -p"}],
        "logs": [{"name": "gw", "path": "/var/log/gw.log"}],
        "canaries": [{"name": "c", "command": ["true"], "expect": "x"}],
    }, env=ENV)
    a = cfg.agents[0]
    assert (a.kind, a.cwd, dict(a.env), a.port, a.restart) == ("generic", Path(HOME), {}, None, "on-failure")
    assert cfg.wrappers[0].output is None
    assert cfg.logs[0].pattern == DEFAULT_BLOCK_PATTERN
    assert (cfg.canaries[0].every_s, cfg.canaries[0].timeout_s) == (60.0, 10.0)
    assert (cfg.canaries[0].expect_file, cfg.canaries[0].max_age_s) == (None, None)


def test_the_default_block_pattern_reads_a_gateway_line() -> None:
    m = re.search(DEFAULT_BLOCK_PATTERN, "[event-loop-block] tick took 1855ms")
    assert m and m.group("ms") == "1855"


# --- round trips --------------------------------------------------------------------------------

FULL: dict[str, Any] = {
    "tmux": {"socket": "fleet", "socket_path": "/run/cockpit.sock", "session": "crew"},
    "state": {"dir": "/var/lib/cockpit"},
    "supervisor": {
        "tick_s": 0.5, "spawn_verify_s": 3, "min_uptime_s": 0.25, "max_restarts": 7, "restart_window_s": 120,
        "backoff_max_s": 9.5, "max_actions_per_minute": 30, "zombie_grace_s": 0, "stop_wait_s": 4,
        "loop_block_ms": 100, "heartbeat_budget_s": 45, "wake_verify_s": 12, "wake_retries": 0,
        "alert_command": ["notify-send", "cockpit alert"], "notice_command": ["logger", "-t", "cockpit"],
        "auto_respawn": False, "auto_reap": False,
    },
    "claude": {"config_dir": "/srv/claude", "hooks": False},
    "codex": {"home": "/srv/codex"},
    "routes": {"file": "/srv/gateway/routes.json"},
    "doctor": {"args": ["--permission-mode", "acceptEdits"], "boot_s": 5, "fail_patterns": ["boom", r"\bE\d+"],
               "ready_pattern": r"\? for shortcuts"},
    "keys": {"respawn": "ctrl+r", "quit": "Q", "tab_5": "f5"},
    "notify": {"urls": ["json://127.0.0.1:8000/hook"], "min_severity": "warning", "on_resolve": True,
               "max_per_minute": 3, "timeout_s": 5},
    "metrics": {"listen": "127.0.0.1:9464", "textfile": "/var/lib/node_exporter/cockpit.prom"},
    "agents": [
        {"name": "tabs", "kind": "claude-code", "cwd": "/src/tabs", "command": ["/usr/bin/claude", "--verbose"],
         "env": {"FOO": "bar", "EMPTY": ""}, "port": 18819, "restart": "always"},
        {"name": "api.v2_x-1", "kind": "codex", "command": ["codex"], "restart": "never"},
        {"name": "sim", "command": ["cockpit-sim", "--session-id", "{session_id}"], "port": 65535},
    ],
    "wrappers": [{"match": r"claude .*-p\b", "output": "/tmp/wrap/*.jsonl"}],
    "logs": [{"name": "gateway", "path": "/var/log/gw.log", "pattern": r"blocked (?P<ms>\d+)"}],
    "canaries": [
        {"name": "ver", "every_s": 30, "command": ["claude", "--version"], "expect": r"\d+\.\d+", "timeout_s": 2.5},
        {"name": "report", "expect_file": "/srv/report.md", "max_age_s": 3600},
    ],
}


def full_config() -> Config:
    return parse_config(FULL, env=ENV)


def test_tmux_round_trips() -> None:
    tmux = full_config().tmux
    assert tmux == TmuxConfig(socket="fleet", socket_path=Path("/run/cockpit.sock"), session="crew")
    assert tmux.server_args() == ("-S", "/run/cockpit.sock")


def test_state_round_trips() -> None:
    state = full_config().state
    assert state.dir == Path("/var/lib/cockpit")
    assert state.registry == Path("/var/lib/cockpit/registry.jsonl")
    assert state.journal.name == "journal.jsonl" and state.reminders.name == "reminders.jsonl"


def test_supervisor_round_trips_every_key() -> None:
    sup = full_config().supervisor
    expected = dict(FULL["supervisor"])
    expected["alert_command"] = tuple(expected["alert_command"])
    expected["notice_command"] = tuple(expected["notice_command"])
    assert dataclasses.asdict(sup) == expected
    assert isinstance(sup.tick_s, float) and isinstance(sup.spawn_verify_s, float)
    assert isinstance(sup.max_restarts, int) and isinstance(sup.loop_block_ms, int)
    assert set(FULL["supervisor"]) == set(keys_of(SupervisorConfig))


def test_claude_and_codex_round_trip_and_are_marked_explicit() -> None:
    cfg = full_config()
    assert cfg.claude == ClaudeConfig(config_dir=Path("/srv/claude"), explicit=True, hooks=False)
    assert cfg.codex == CodexConfig(home=Path("/srv/codex"), explicit=True)
    # Set to the very default path, it still counts as explicit (CLAUDE_CONFIG_DIR gets exported).
    cfg = parse_config({"claude": {"config_dir": "~/.claude"}, "codex": {"home": "~/.codex"}}, env=ENV)
    assert cfg.claude.explicit and cfg.claude.config_dir == Path(HOME, ".claude")
    assert cfg.codex.explicit and cfg.codex.home == Path(HOME, ".codex")


def test_routes_round_trips() -> None:
    assert full_config().routes == RoutesConfig(file=Path("/srv/gateway/routes.json"))


def test_doctor_round_trips() -> None:
    assert full_config().doctor == DoctorConfig(
        args=("--permission-mode", "acceptEdits"), boot_s=5.0, fail_patterns=("boom", r"\bE\d+"),
        ready_pattern=r"\? for shortcuts")


def test_keys_round_trip() -> None:
    assert dict(full_config().keys) == {"respawn": "ctrl+r", "quit": "Q", "tab_5": "f5"}


def test_agents_round_trip() -> None:
    cfg = full_config()
    tabs, api, sim = cfg.agents
    assert tabs == AgentConfig(name="tabs", kind="claude-code", cwd=Path("/src/tabs"),
                               command=("/usr/bin/claude", "--verbose"), env={"FOO": "bar", "EMPTY": ""},
                               port=18819, restart="always")
    assert (api.name, api.kind, api.command, api.restart, api.cwd) == ("api.v2_x-1", "codex", ("codex",), "never", Path(HOME))
    assert sim.command == ("cockpit-sim", "--session-id", "{session_id}")  # left for the spawner to replace
    assert sim.port == 65535
    assert cfg.agent("api.v2_x-1") is api


def test_agent_env_is_read_only() -> None:
    env = full_config().agents[0].env
    with pytest.raises(TypeError):
        env["FOO"] = "changed"  # type: ignore[index]


def test_config_is_frozen() -> None:
    cfg = full_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.supervisor.tick_s = 1.0  # type: ignore[misc]


def test_unknown_agent_lookup_names_the_known_ones() -> None:
    err = pytest.raises(ConfigError, full_config().agent, "nope").value
    assert "'nope'" in str(err) and "tabs, api.v2_x-1, sim" in str(err)


def test_wrappers_logs_canaries_round_trip() -> None:
    cfg = full_config()
    assert cfg.wrappers == (WrapperRule(match=r"claude .*-p\b", output="/tmp/wrap/*.jsonl"),)
    assert cfg.logs == (LogSource(name="gateway", path=Path("/var/log/gw.log"), pattern=r"blocked (?P<ms>\d+)"),)
    assert cfg.canaries == (
        Canary(name="ver", every_s=30.0, command=("claude", "--version"), expect=r"\d+\.\d+", timeout_s=2.5),
        Canary(name="report", expect_file=Path("/srv/report.md"), max_age_s=3600.0),
    )


@pytest.mark.parametrize("section", sorted(ALL_SECTIONS))
def test_the_full_fixture_sets_every_key_of_every_section(section: str) -> None:
    """Keeps the round-trip fixture honest when a key is added to a dataclass."""
    value = FULL[section]
    given_keys = set().union(*(set(v) for v in value)) if isinstance(value, list) else set(value)
    assert given_keys == set(keys_of(ALL_SECTIONS[section]))


def test_a_toml_file_round_trips_through_load_config(tmp_path: Path) -> None:
    path = write(tmp_path, """
[supervisor]
tick_s = 1
auto_reap = false
alert_command = ["notify-send", "cockpit"]

[[agents]]
name = "tabs"
kind = "claude-code"
cwd = "~/src/tabs"
command = ["claude"]
env = { A = "1" }
port = 8080
""")
    cfg = load_config(path, env=ENV)
    assert cfg.supervisor.tick_s == 1.0 and cfg.supervisor.auto_reap is False
    assert cfg.supervisor.alert_command == ("notify-send", "cockpit")
    assert cfg.agents[0].cwd == Path(HOME, "src/tabs") and dict(cfg.agents[0].env) == {"A": "1"}


# --- unknown keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "key", "listed"), [
    ({"supervisr": {}}, "supervisr", ["supervisor", "agents", "keys"]),
    ({"supervisor": {"tick_sec": 2}}, "supervisor.tick_sec", keys_of(SupervisorConfig)),
    ({"tmux": {"sockett": "x"}}, "tmux.sockett", keys_of(TmuxConfig)),
    ({"state": {"directory": "/x"}}, "state.directory", ["dir"]),
    ({"claude": {"dir": "/x"}}, "claude.dir", ["config_dir"]),
    ({"codex": {"codex_home": "/x"}}, "codex.codex_home", ["home"]),
    ({"routes": {"path": "/x"}}, "routes.path", ["file"]),
    ({"doctor": {"boot": 3}}, "doctor.boot", keys_of(DoctorConfig)),
    ({"keys": {"respwan": "r"}}, "keys.respwan", list(KEY_BINDING_IDS)),
    ({"agents": [agent(nmae="x")]}, "agents[0].nmae", keys_of(AgentConfig)),
    ({"agents": [agent(), agent(name="b", ports=1)]}, "agents[1].ports", keys_of(AgentConfig)),
    ({"wrappers": [{"match": "x", "outptu": "y"}]}, "wrappers[0].outptu", keys_of(WrapperRule)),
    ({"logs": [{"name": "n", "path": "/p", "regex": "x"}]}, "logs[0].regex", keys_of(LogSource)),
    ({"canaries": [{"name": "c", "command": ["true"], "expect": "x", "every": 1}]}, "canaries[0].every", keys_of(Canary)),
])
def test_an_unknown_key_names_the_file_the_key_and_the_expected_keys(data: dict, key: str, listed: list[str]) -> None:
    err = error_of(data, path=Path("/etc/cockpit/cockpit.toml"))
    text = str(err)
    assert text.startswith(f"/etc/cockpit/cockpit.toml: {key}: unknown key")
    assert err.file == "/etc/cockpit/cockpit.toml" and err.key == key
    for name in listed:
        assert re.search(rf"\b{re.escape(name)}\b", text.split("expected one of:", 1)[1]), name


def test_an_unknown_key_in_a_file_is_reported_with_that_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[supervisor]\ntick_sec = 2\n")
    err = pytest.raises(ConfigError, load_config, path, env=ENV).value
    assert str(err).startswith(f"{path}: supervisor.tick_sec: unknown key (expected one of: ")
    assert "tick_s" in str(err)


# --- wrong types and values ---------------------------------------------------------------------


BAD_VALUES = [
    # (data, key, fragment of the expectation)
    ({"supervisor": {"tick_s": "2"}}, "supervisor.tick_s", "expected a number, got a string ('2')"),
    ({"supervisor": {"tick_s": True}}, "supervisor.tick_s", "expected a number, got a boolean (true)"),
    ({"supervisor": {"tick_s": 0}}, "supervisor.tick_s", "expected a number > 0"),
    ({"supervisor": {"tick_s": -1.5}}, "supervisor.tick_s", "expected a number > 0"),
    ({"supervisor": {"tick_s": math.nan}}, "supervisor.tick_s", "finite"),
    ({"supervisor": {"tick_s": math.inf}}, "supervisor.tick_s", "finite"),
    ({"supervisor": {"stop_wait_s": 10**400}}, "supervisor.stop_wait_s", "finite"),
    ({"supervisor": {"zombie_grace_s": -1}}, "supervisor.zombie_grace_s", "expected a number >= 0"),
    ({"supervisor": {"max_restarts": True}}, "supervisor.max_restarts", "expected an integer, got a boolean (true)"),
    ({"supervisor": {"max_restarts": 2.5}}, "supervisor.max_restarts", "expected an integer, got a number (2.5)"),
    ({"supervisor": {"max_restarts": -1}}, "supervisor.max_restarts", "expected an integer >= 0"),
    ({"supervisor": {"max_actions_per_minute": 0}}, "supervisor.max_actions_per_minute", "expected an integer >= 1"),
    ({"supervisor": {"loop_block_ms": "250ms"}}, "supervisor.loop_block_ms", "expected an integer"),
    ({"supervisor": {"auto_reap": "yes"}}, "supervisor.auto_reap", "expected true or false"),
    ({"supervisor": {"auto_respawn": 1}}, "supervisor.auto_respawn", "expected true or false, got an integer (1)"),
    ({"supervisor": {"alert_command": "notify-send cockpit"}}, "supervisor.alert_command",
     "expected a list of strings (an argv, never a shell string)"),
    ({"supervisor": {"notice_command": ["logger", 3]}}, "supervisor.notice_command[1]", "expected a string"),
    ({"supervisor": []}, "supervisor", "expected a table, got a list"),
    ({"tmux": {"socket": "/tmp/x"}}, "tmux.socket", "use tmux.socket_path"),
    ({"tmux": {"socket": ""}}, "tmux.socket", "expected a non-empty string"),
    ({"tmux": {"session": "a:b"}}, "tmux.session", "without ':' or '.'"),
    ({"tmux": {"socket_path": 5}}, "tmux.socket_path", "expected a string"),
    ({"state": {"dir": ["a"]}}, "state.dir", "expected a string, got a list"),
    ({"state": {"dir": "a\x00b"}}, "state.dir", "without NUL"),
    ({"routes": {"file": {}}}, "routes.file", "expected a string, got a table"),
    ({"doctor": {"args": "--flag"}}, "doctor.args", "expected a list of strings"),
    ({"doctor": {"fail_patterns": ["ok", "(unclosed"]}}, "doctor.fail_patterns[1]", "expected a valid regular expression"),
    ({"doctor": {"ready_pattern": "[a-"}}, "doctor.ready_pattern", "expected a valid regular expression"),
    ({"doctor": {"ready_pattern": "a{99999999999}"}}, "doctor.ready_pattern", "expected a valid regular expression"),
    ({"doctor": {"ready_pattern": "(" * 3000 + ")" * 3000}}, "doctor.ready_pattern", "expected a valid regular expression"),
    ({"keys": {"quit": 1}}, "keys.quit", "expected a string"),
    ({"keys": ["q"]}, "keys", "expected a table"),
    ({"agents": {"name": "x"}}, "agents", "expected an array of tables ([[agents]])"),
    ({"agents": ["x"]}, "agents[0]", "expected a table"),
    ({"agents": [{"command": ["x"]}]}, "agents[0].name", "is required"),
    ({"agents": [{"name": "x"}]}, "agents[0].command", "is required"),
    ({"agents": [agent(name="has space")]}, "agents[0].name", "expected letters, digits"),
    ({"agents": [agent(name="x" * 65)]}, "agents[0].name", "at most 64"),
    ({"agents": [agent(name=7)]}, "agents[0].name", "expected a string"),
    ({"agents": [agent(command="claude --resume abc")]}, "agents[0].command",
     "expected a list of strings (an argv, never a shell string), got a string ('claude --resume abc')"),
    ({"agents": [agent(command=[])]}, "agents[0].command", "expected a non-empty list"),
    ({"agents": [agent(command=["claude", ["nested"]])]}, "agents[0].command[1]", "expected a string"),
    ({"agents": [agent(kind="claude")]}, "agents[0].kind", "expected one of 'claude-code', 'codex', 'generic'"),
    ({"agents": [agent(restart="sometimes")]}, "agents[0].restart", "expected one of 'on-failure', 'always', 'never'"),
    ({"agents": [agent(port=0)]}, "agents[0].port", "expected an integer >= 1"),
    ({"agents": [agent(port=65536)]}, "agents[0].port", "expected a TCP port 1-65535"),
    ({"agents": [agent(port=10**5000)]}, "agents[0].port", "expected a TCP port 1-65535"),
    ({"agents": [agent(port="8080")]}, "agents[0].port", "expected an integer, got a string ('8080')"),
    ({"agents": [agent(port=True)]}, "agents[0].port", "expected an integer, got a boolean"),
    ({"agents": [agent(env={"A": 1})]}, "agents[0].env.A", "expected a string"),
    ({"agents": [agent(env={"NOT-A-NAME": "x"})]}, "agents[0].env.NOT-A-NAME", "expected an environment variable name"),
    ({"agents": [agent(env=["A=1"])]}, "agents[0].env", "expected a table"),
    ({"agents": [agent(cwd=1)]}, "agents[0].cwd", "expected a string"),
    ({"wrappers": [{"output": "x"}]}, "wrappers[0].match", "is required"),
    ({"wrappers": [{"match": "(a"}]}, "wrappers[0].match", "expected a valid regular expression"),
    ({"logs": [{"name": "gw"}]}, "logs[0].path", "is required"),
    ({"logs": [{"name": "gw", "path": "/l", "pattern": r"took (\d+)ms"}]}, "logs[0].pattern",
     "expected a regular expression with a named group (?P<ms>...)"),
    ({"logs": [{"name": "gw", "path": "/l", "pattern": "(?P<ms>"}]}, "logs[0].pattern", "expected a valid regular expression"),
    ({"canaries": [{"command": ["true"], "expect": "x"}]}, "canaries[0].name", "is required"),
    ({"canaries": [{"name": "c"}]}, "canaries[0]", "expected either command + expect, or expect_file + max_age_s"),
    ({"canaries": [{"name": "c", "command": ["true"]}]}, "canaries[0]", "expected either command + expect"),
    ({"canaries": [{"name": "c", "command": ["true"], "expect": "x", "expect_file": "/f", "max_age_s": 1}]},
     "canaries[0]", "expected either command + expect, or expect_file + max_age_s"),
    ({"canaries": [{"name": "c", "command": "true", "expect": "x"}]}, "canaries[0].command", "never a shell string"),
    ({"canaries": [{"name": "c", "command": ["true"], "expect": "x", "every_s": 0}]}, "canaries[0].every_s", "> 0"),
    ({"canaries": [{"name": "c", "expect_file": "/f", "max_age_s": "1h"}]}, "canaries[0].max_age_s", "expected a number"),
]


@pytest.mark.parametrize(("data", "key", "fragment"), BAD_VALUES, ids=[case[1] for case in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_file_key_and_expectation(data: dict, key: str, fragment: str) -> None:
    err = error_of(data, path=Path("/etc/cockpit.toml"))
    text = str(err)
    assert text.startswith(f"/etc/cockpit.toml: {key}: "), text
    assert fragment in text, text
    assert len(text.splitlines()) == 1 and len(text) < 400, text


def test_a_parse_without_a_path_says_config() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"supervisor": {"tick_s": "x"}}, env=ENV)
    assert str(info.value).startswith("<config>: supervisor.tick_s: ")


def test_a_top_level_that_is_not_a_table_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_config([1, 2], env=ENV)  # type: ignore[arg-type]


def test_min_uptime_longer_than_spawn_verify_is_rejected() -> None:
    err = error_of({"supervisor": {"spawn_verify_s": 2, "min_uptime_s": 3}})
    assert err.key == "supervisor.min_uptime_s"
    assert "expected at most supervisor.spawn_verify_s (2), got 3" in str(err)
    # Also against the default spawn_verify_s (2 s).
    assert error_of({"supervisor": {"min_uptime_s": 2.5}}).key == "supervisor.min_uptime_s"
    # Equal is allowed, and so is zero.
    sup = parse_config({"supervisor": {"spawn_verify_s": 3, "min_uptime_s": 3}}, env=ENV).supervisor
    assert sup.min_uptime_s == sup.spawn_verify_s == 3.0
    assert parse_config({"supervisor": {"min_uptime_s": 0}}, env=ENV).supervisor.min_uptime_s == 0.0


def test_duplicate_agent_names_are_rejected() -> None:
    err = error_of({"agents": [agent(name="tabs"), agent(name="other"), agent(name="tabs")]})
    assert err.key == "agents[2].name"
    assert "'tabs' is used twice" in str(err)


def test_unknown_key_binding_ids_are_rejected_and_every_documented_one_is_accepted() -> None:
    assert set(KEY_BINDING_IDS) == {"respawn", "repoint", "reap", "reap_now", "attach", "describe", "filter", "help",
                                    "palette", "quit", "tab_1", "tab_2", "tab_3", "tab_4", "tab_5"}
    cfg = parse_config({"keys": {k: f"f{i}" for i, k in enumerate(KEY_BINDING_IDS)}}, env=ENV)
    assert set(cfg.keys) == set(KEY_BINDING_IDS)
    assert error_of({"keys": {"tab_6": "6"}}).key == "keys.tab_6"


def test_default_keys_are_the_spec_ones() -> None:
    assert DEFAULT_KEYS["respawn"] == "R" and DEFAULT_KEYS["reap_now"] == "ctrl+k"
    assert DEFAULT_KEYS["palette"] == "ctrl+p" and [DEFAULT_KEYS[f"tab_{i}"] for i in range(1, 6)] == list("12345")


# --- the file itself ----------------------------------------------------------------------------


def test_a_missing_file_says_so_and_how_to_point_at_one(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "cockpit.toml"
    err = pytest.raises(ConfigError, load_config, path, env=ENV).value
    assert str(err) == f"{path}: (file): no such file; pass --config FILE or set $COCKPIT_CONFIG"


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    err = pytest.raises(ConfigError, load_config, tmp_path, env=ENV).value
    assert str(err).startswith(f"{tmp_path}: (file): cannot be read")
    assert len(str(err).splitlines()) == 1


def test_invalid_toml_names_file_and_position(tmp_path: Path) -> None:
    path = write(tmp_path, "[supervisor]\ntick_s = = 2\n")
    err = pytest.raises(ConfigError, load_config, path, env=ENV).value
    assert str(err).startswith(f"{path}: (syntax): expected valid TOML: ")
    assert "line 2" in str(err)
    assert len(str(err).splitlines()) == 1


def test_a_duplicate_table_is_invalid_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[tmux]\nsession = 'a'\n[tmux]\nsession = 'b'\n")
    assert pytest.raises(ConfigError, load_config, path, env=ENV).value.key == "(syntax)"


def test_an_integer_too_long_to_read_is_a_syntax_error_not_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[supervisor]\nmax_restarts = " + "9" * 5000 + "\n")
    err = pytest.raises(ConfigError, load_config, path, env=ENV).value
    assert err.key == "(syntax)" and len(str(err).splitlines()) == 1


def test_a_non_utf8_file_is_rejected_with_the_offset(tmp_path: Path) -> None:
    path = write(tmp_path, b"[tmux]\nsession = \"caf\xe9\"\n")
    err = pytest.raises(ConfigError, load_config, path, env=ENV).value
    assert str(err) == f"{path}: (file): expected UTF-8 text (bad byte at offset 21)"


def test_loading_a_bad_file_changes_nothing_on_disk(tmp_path: Path) -> None:
    path = write(tmp_path, "[state]\ndir = 5\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ConfigError):
        load_config(path, env=ENV)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert path.read_text() == "[state]\ndir = 5\n"


# --- expansion ----------------------------------------------------------------------------------


def test_tilde_and_vars_are_expanded_in_paths() -> None:
    env = {"HOME": HOME, "PROJ": "/src/proj", "GW": "/var/gw"}
    cfg = parse_config({
        "tmux": {"socket_path": "$GW/tmux.sock"},
        "state": {"dir": "~/state"},
        "claude": {"config_dir": "${HOME}/.claude-alt"},
        "codex": {"home": "~"},
        "routes": {"file": "${GW}/routes.json"},
        "agents": [agent(cwd="$PROJ/sub")],
        "wrappers": [{"match": "x", "output": "~/wrap/$PROJ-*.jsonl"}],
        "logs": [{"name": "gw", "path": "$GW/gw.log"}],
        "canaries": [{"name": "c", "expect_file": "~/r.md", "max_age_s": 5}],
    }, env=env)
    assert cfg.tmux.socket_path == Path("/var/gw/tmux.sock")
    assert cfg.state.dir == Path(HOME, "state")
    assert cfg.claude.config_dir == Path(HOME, ".claude-alt")
    assert cfg.codex.home == Path(HOME)
    assert cfg.routes.file == Path("/var/gw/routes.json")
    assert cfg.agents[0].cwd == Path("/src/proj/sub")
    assert cfg.wrappers[0].output == f"{HOME}/wrap//src/proj-*.jsonl"
    assert cfg.logs[0].path == Path("/var/gw/gw.log")
    assert cfg.canaries[0].expect_file == Path(HOME, "r.md")


def test_only_command0_is_expanded_the_arguments_stay_literal() -> None:
    env = {"HOME": HOME, "BIN": "/opt/bin"}
    cfg = parse_config({
        "supervisor": {"alert_command": ["~/bin/alert", "$BIN", "~"]},
        "agents": [agent(command=["$BIN/claude", "--append-system-prompt", "$HOME is ~"])],
        "canaries": [{"name": "c", "command": ["${BIN}/check", "$UNSET_IS_FINE_HERE"], "expect": "ok"}],
    }, env=env)
    assert cfg.supervisor.alert_command == (f"{HOME}/bin/alert", "$BIN", "~")
    assert cfg.agents[0].command == ("/opt/bin/claude", "--append-system-prompt", "$HOME is ~")
    assert cfg.canaries[0].command == ("/opt/bin/check", "$UNSET_IS_FINE_HERE")


def test_a_lone_dollar_and_non_leading_tilde_are_literal() -> None:
    cfg = parse_config({"agents": [agent(cwd="/srv/a$/b~c/$1")]}, env=ENV)
    assert cfg.agents[0].cwd == Path("/srv/a$/b~c/$1")


def test_an_expanded_value_is_not_expanded_again() -> None:
    env = {"HOME": HOME, "X": "/lit/$NOT_SET"}
    assert parse_config({"state": {"dir": "$X"}}, env=env).state.dir == Path("/lit/$NOT_SET")
    assert parse_config({"agents": [agent(cwd="$X")]}, env=env).agents[0].cwd == Path("/lit/$NOT_SET")


@pytest.mark.parametrize(("data", "key"), [
    ({"state": {"dir": "$NOPE/state"}}, "state.dir"),
    ({"claude": {"config_dir": "${NOPE}"}}, "claude.config_dir"),
    ({"agents": [agent(cwd="~/$NOPE")]}, "agents[0].cwd"),
    ({"agents": [agent(command=["$NOPE/claude"])]}, "agents[0].command[0]"),
    ({"supervisor": {"alert_command": ["$NOPE"]}}, "supervisor.alert_command[0]"),
    ({"logs": [{"name": "gw", "path": "$NOPE"}]}, "logs[0].path"),
    ({"wrappers": [{"match": "x", "output": "$NOPE/*"}]}, "wrappers[0].output"),
])
def test_an_unset_variable_is_an_error_naming_it(data: dict, key: str) -> None:
    err = error_of(data, env={"HOME": HOME}, path=Path("/c.toml"))
    assert str(err) == f"/c.toml: {key}: $NOPE is not set in the environment"


def test_expansion_uses_the_given_env_not_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    # os.environ is only read, through monkeypatch, to prove it is ignored when env= is given.
    monkeypatch.setenv("COCKPIT_TEST_ONLY_IN_OS_ENVIRON", "/from/os")
    err = error_of({"state": {"dir": "$COCKPIT_TEST_ONLY_IN_OS_ENVIRON"}}, env={"HOME": HOME})
    assert err.key == "state.dir"


# --- finding the file ---------------------------------------------------------------------------


def test_find_config_path_prefers_the_flag_then_cockpit_config_then_xdg(tmp_path: Path) -> None:
    env = {"HOME": HOME, "COCKPIT_CONFIG": str(tmp_path / "env.toml"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert find_config_path(tmp_path / "flag.toml", env=env) == tmp_path / "flag.toml"
    assert find_config_path(str(tmp_path / "flag.toml"), env=env) == tmp_path / "flag.toml"
    assert find_config_path(None, env=env) == tmp_path / "env.toml"
    del env["COCKPIT_CONFIG"]
    assert find_config_path(None, env=env) == tmp_path / "xdg" / "cockpit" / "cockpit.toml"
    del env["XDG_CONFIG_HOME"]
    assert find_config_path(None, env=env) == Path(HOME, ".config/cockpit/cockpit.toml")


def test_find_config_path_ignores_empty_values_and_a_relative_xdg_home() -> None:
    env = {"HOME": HOME, "COCKPIT_CONFIG": "", "XDG_CONFIG_HOME": ""}
    assert find_config_path("", env=env) == Path(HOME, ".config/cockpit/cockpit.toml")
    env["XDG_CONFIG_HOME"] = "relative/dir"  # the XDG spec: a relative path is invalid
    assert find_config_path(None, env=env) == Path(HOME, ".config/cockpit/cockpit.toml")


def test_find_config_path_expands_tilde_with_the_given_home() -> None:
    env = {"HOME": HOME, "COCKPIT_CONFIG": "~/cfg/c.toml"}
    assert find_config_path("~/flag.toml", env=env) == Path(HOME, "flag.toml")
    assert find_config_path(None, env=env) == Path(HOME, "cfg/c.toml")


def test_find_config_path_does_not_require_the_file_to_exist(tmp_path: Path) -> None:
    path = find_config_path(None, env={"HOME": HOME, "XDG_CONFIG_HOME": str(tmp_path)})
    assert not path.exists()
    assert pytest.raises(ConfigError, load_config, path, env=ENV).value.key == "(file)"


# --- the example file cannot drift from the code ------------------------------------------------

_HEADER = re.compile(r"^#?\s*\[\[?([a-z_]+)\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")
_COMMENTED_TOML = re.compile(r"^# ?(\[\[?[a-z_]+\]\]?\s*(?:#.*)?|[A-Za-z_][A-Za-z0-9_]*\s*=.*)$")


def example_keys_by_section() -> dict[str, set[str]]:
    """The keys set or shown (``# key = ...``) under each header, commented or not."""
    found: dict[str, set[str]] = {}
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if m := _HEADER.match(line):
            section = m.group(1)
            found.setdefault(section, set())
        elif (m := _KEY_LINE.match(line)) and section:
            found[section].add(m.group(1))
    return found


def uncommented_example() -> str:
    """The example with every commented-out key and header switched on."""
    return "\n".join(
        m.group(1) if (m := _COMMENTED_TOML.match(line)) else line
        for line in EXAMPLE.read_text(encoding="utf-8").splitlines()
    )


EXAMPLE_ENV = {"HOME": HOME}


def test_the_example_parses_into_a_working_config() -> None:
    cfg = load_config(EXAMPLE, env=EXAMPLE_ENV)
    kinds = {a.name: a.kind for a in cfg.agents}
    assert len(cfg.agents) >= 2 and "claude-code" in kinds.values() and "generic" in kinds.values()
    sim = next(a for a in cfg.agents if a.command[0] == "cockpit-sim")
    assert "{session_id}" in sim.command
    assert all(isinstance(a.command, tuple) and a.command for a in cfg.agents)
    # Only agents are set: everything else is at its default.
    assert cfg.supervisor == SupervisorConfig() and cfg.tmux == TmuxConfig() and cfg.doctor == DoctorConfig()
    assert not cfg.claude.explicit and not cfg.codex.explicit and dict(cfg.keys) == {}


def test_the_example_with_everything_uncommented_still_parses() -> None:
    cfg = parse_config(tomllib.loads(uncommented_example()), path=EXAMPLE, env=EXAMPLE_ENV)
    assert cfg.wrappers and cfg.logs and cfg.canaries and len(cfg.agents) >= 3
    assert {a.kind for a in cfg.agents} == {"claude-code", "codex", "generic"}
    assert cfg.claude.explicit and cfg.codex.explicit and cfg.routes.file is not None
    assert dict(cfg.keys) == dict(DEFAULT_KEYS)


@pytest.mark.parametrize("section", sorted(ALL_SECTIONS))
def test_the_example_documents_every_key_of_every_section(section: str) -> None:
    documented = example_keys_by_section()
    assert section in documented, f"no [{section}] in {EXAMPLE.name}"
    missing = set(keys_of(ALL_SECTIONS[section])) - documented[section]
    assert not missing, f"[{section}] in {EXAMPLE.name} does not document {sorted(missing)}"


def test_the_example_documents_every_key_binding() -> None:
    assert set(example_keys_by_section()["keys"]) >= set(KEY_BINDING_IDS)


def test_the_example_has_every_top_level_section() -> None:
    sections = {f.name for f in dataclasses.fields(Config)} - {"path"}
    assert sections <= set(example_keys_by_section())


def test_the_example_documents_no_key_the_code_does_not_know() -> None:
    documented = example_keys_by_section()
    for section, cls in ALL_SECTIONS.items():
        assert documented[section] <= set(keys_of(cls)), section
    assert documented["keys"] <= set(KEY_BINDING_IDS)


def test_the_example_shows_the_real_defaults() -> None:
    """Every switched-on default of a single-table section parses to the dataclass default."""
    uncommented = tomllib.loads(uncommented_example())
    plain = parse_config({}, env=EXAMPLE_ENV)
    full = parse_config(uncommented, env=EXAMPLE_ENV)
    for section, cls in SINGLETONS.items():
        for f in dataclasses.fields(cls):
            if f.name == "explicit" or f.default is None:  # unset by default: the file shows an example
                continue
            assert getattr(getattr(full, section), f.name) == getattr(getattr(plain, section), f.name), \
                f"{section}.{f.name}"
    assert dict(full.keys) == dict(DEFAULT_KEYS)
    assert full.logs[0].pattern == DEFAULT_BLOCK_PATTERN
    canary = next(c for c in full.canaries if c.command)
    assert (canary.every_s, canary.timeout_s) == (Canary.every_s, Canary.timeout_s)


def test_the_example_says_commands_are_argv_lists_and_how_expansion_works() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "argv" in text and "never shell strings" in text
    assert "$VARS" in text and "unset variable is an error" in text
    for doc in ("--resume <disk truth>", "--session-id <new uuid>", "resume <disk truth>", '"{session_id}"'):
        assert doc in text


# --- every error is one line --------------------------------------------------------------------

ONE_LINE_CASES: list[dict[str, Any]] = [
    {"bad\nkey": 1},
    {"supervisor": {"tick\nsec": 1}},
    {"keys": {"a\u2028b": "x"}},
    {"agents": [agent(env={"BAD\nNAME": "x"})]},
    {"agents": [agent(name="a\nb")]},
    {"agents": [agent(kind="claude\ncode")]},
    {"agents": [agent(command="claude\n--resume x")]},
    {"agents": [agent(), agent()]},
    {"tmux": {"session": "a\x1b[31mb"}},
    {"doctor": {"fail_patterns": ["(\n"]}},
    {"doctor": {"ready_pattern": "(?x)\n(\n"}},
    {"logs": [{"name": "n\n", "path": "/p", "pattern": "no\ngroup"}]},
    {"supervisor": {"tick_s": "\r\n"}},
    {"supervisor": {"max_restarts": -(10**6000)}},
    {"agents": [agent(restart="x\u2029y\u0085")]},
    {"state": {"dir": "x\x00"}},
    {"canaries": [{"name": "c\n"}]},
]


@pytest.mark.parametrize("data", ONE_LINE_CASES)
def test_every_config_error_is_exactly_one_line(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, path=Path("/etc/cock\npit.toml"), env=ENV)
    text = str(info.value)
    assert text.splitlines() == [text] and text.isprintable(), repr(text)


@pytest.mark.parametrize("content", [
    b"[tmux\n", b"a = \"unterminated\n", b"\xff\xfe[tmux]", b"key = 1\nkey = 2\n", b"x = 1979-05-27T07:32:00Z",
    b"[supervisor]\ntick_s = 1979-05-27\n", "[keys]\n\"a\\nb\" = \"c\"\n".encode(),
])
def test_every_file_error_is_exactly_one_line(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=ENV)
    text = str(info.value)
    assert text.splitlines() == [text] and text.startswith(f"{path}: "), repr(text)


def test_config_error_keeps_its_parts() -> None:
    err = ConfigError(Path("/x.toml"), "supervisor.tick_s", "expected a number")
    assert (err.file, err.key, err.expected) == ("/x.toml", "supervisor.tick_s", "expected a number")
    assert str(err) == "/x.toml: supervisor.tick_s: expected a number"
    assert str(ConfigError(None, "k", "e")) == "<config>: k: e"


# --- property: anything TOML-shaped parses or raises ConfigError --------------------------------

_SECTION_KEYS = sorted(set(ALL_SECTIONS) | {"keys"})
_FIELD_KEYS = sorted({k for cls in ALL_SECTIONS.values() for k in keys_of(cls)} | set(KEY_BINDING_IDS))
_key = st.one_of(st.sampled_from(_SECTION_KEYS + _FIELD_KEYS), st.text(max_size=12))
_scalar = st.one_of(
    st.text(max_size=20),
    st.sampled_from([10**400, -(10**400), 2**63, 65536, 0, -1, 1, math.nan, math.inf, -math.inf, 0.5, "", "\x00",
                     "a\nb", "\u2028", "(" * 1200 + ")" * 1200]),
    st.sampled_from(["~", "~/x", "$HOME/a", "${HOME}", "$UNSET_VAR", "(?P<ms>\\d+)", "(", "a{99999999999}",
                     "claude-code", "codex", "generic", "always", "never", "on-failure", "/abs/path", "{session_id}"]),
    st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
_value = st.recursive(
    _scalar,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_key, children, max_size=5)),
    max_leaves=20,
)
_toml_ish = st.dictionaries(
    st.one_of(st.sampled_from(_SECTION_KEYS), st.text(max_size=8)),
    st.one_of(
        _value,
        st.dictionaries(_key, _value, max_size=6),
        st.lists(st.dictionaries(_key, _value, max_size=6), max_size=3),
    ),
    max_size=6,
)




def _table_of(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Right keys (each maybe present) with random values, so values reach the readers."""
    return st.fixed_dictionaries({}, optional={k: st.one_of(_scalar, _value) for k in keys})


_schema_ish = st.fixed_dictionaries({}, optional={
    **{name: _table_of(keys_of(cls)) for name, cls in SINGLETONS.items()},
    **{name: st.lists(_table_of(keys_of(cls)), max_size=3) for name, cls in ARRAYS.items()},
    "keys": _table_of(list(KEY_BINDING_IDS)),
})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_toml_ish, _schema_ish))
def test_any_toml_ish_data_parses_or_raises_config_error(data: dict[str, Any]) -> None:
    try:
        cfg = parse_config(data, path=Path("/fuzz.toml"), env={"HOME": HOME})
    except ConfigError as err:
        assert str(err).startswith("/fuzz.toml: ")
        assert len(str(err).splitlines()) == 1
    else:
        assert isinstance(cfg, Config)


_agent_ish = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=10), "command": st.lists(_scalar, max_size=3)},
    optional={k: _value for k in keys_of(AgentConfig) if k not in ("name", "command")},
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_agent_ish, max_size=3), st.dictionaries(st.sampled_from(keys_of(SupervisorConfig)), _scalar))
def test_near_valid_agents_and_supervisor_parse_or_raise_config_error(agents: list, sup: dict) -> None:
    """Mostly right keys with random values reach deep into the readers, not just check_keys."""
    try:
        parse_config({"agents": agents, "supervisor": sup}, env={"HOME": HOME})
    except ConfigError as err:
        assert len(str(err).splitlines()) == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_load_or_raise_config_error(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "cockpit.toml"
    path.write_bytes(content)
    try:
        load_config(path, env={"HOME": HOME})
    except ConfigError as err:
        assert len(str(err).splitlines()) == 1

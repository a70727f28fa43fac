"""The configuration: one TOML file read into typed, frozen objects.

Every key has a default except ``[[agents]]``. A typo must not pass silently, so
unknown keys, wrong types and duplicate agent names are errors: one line naming
the file, the key and what was expected (``ConfigError``).
"""

from __future__ import annotations

import datetime
import math
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

AGENT_KINDS = ("claude-code", "codex", "generic")
RESTART_POLICIES = ("on-failure", "always", "never")
DEFAULT_BLOCK_PATTERN = r"\[event-loop-block\] tick took (?P<ms>\d+)ms(?: - (?P<culprit>.*))?"
DEFAULT_FAIL_PATTERNS = ("Error", "is not a function", "sandbox", "Traceback")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_CONFIG_BYTES = 4 << 20   # a config is a few KB; /dev/zero or a huge file is not one
MAX_NUMBER = 1e7             # seconds (about 115 days) or ms: any duration or rate a user sets
MAX_INTEGER = 10**7          # counts: restarts, retries, actions per minute, ms
# The TUI actions whose key a ``[keys]`` table may remap, with their default keys (SPEC §4).
DEFAULT_KEYS: Mapping[str, str] = MappingProxyType({
    "respawn": "R", "repoint": "p", "reap": "k", "reap_now": "ctrl+k", "attach": "enter", "describe": "d",
    "filter": "/", "help": "?", "palette": "ctrl+p", "quit": "q",
    "tab_1": "1", "tab_2": "2", "tab_3": "3", "tab_4": "4", "tab_5": "5",
})
KEY_BINDING_IDS: tuple[str, ...] = tuple(DEFAULT_KEYS)


def _one_line(text: str) -> str:
    """Escape every non-printable character (newlines, escapes, U+2028...) so text stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ConfigError(Exception):
    """A bad config: ``str(err)`` is the one line an operator reads."""

    def __init__(self, file: Path | str | None, key: str, expected: str) -> None:
        self.file = str(file) if file is not None else "<config>"
        self.key = key
        self.expected = expected
        super().__init__(_one_line(f"{self.file}: {key}: {expected}"))


@dataclass(frozen=True)
class TmuxConfig:
    socket: str = "agents"
    socket_path: Path | None = None
    session: str = "agents"

    def server_args(self) -> tuple[str, ...]:
        """The arguments that select this tmux server (``-L NAME`` or ``-S PATH``)."""
        if self.socket_path is not None:
            return ("-S", str(self.socket_path))
        return ("-L", self.socket)


@dataclass(frozen=True)
class StateConfig:
    dir: Path = Path("~/.local/state/cockpit")

    @property
    def registry(self) -> Path:
        return self.dir / "registry.jsonl"

    @property
    def journal(self) -> Path:
        return self.dir / "journal.jsonl"

    @property
    def reminders(self) -> Path:
        return self.dir / "reminders.jsonl"

    @property
    def promotions(self) -> Path:
        """Written by ``cockpit doctor --promote`` after a pass; version_drift compares the fleet's CLIs with it."""
        return self.dir / "promotions.jsonl"

    @property
    def events_socket(self) -> Path:
        """SPEC §8: where ``cockpit hook`` sends the agents' hook events (0600)."""
        return self.dir / "events.sock"

    @property
    def events_dir(self) -> Path:
        """SPEC §8: ``<agent>.jsonl`` per agent, every hook event received (the disk keeps the truth)."""
        return self.dir / "events"

    @property
    def hooks_dir(self) -> Path:
        """SPEC §8: ``<agent>.json``, the settings layer a claude-code agent is spawned with."""
        return self.dir / "hooks"


@dataclass(frozen=True)
class SupervisorConfig:
    tick_s: float = 2.0
    spawn_verify_s: float = 2.0
    min_uptime_s: float = 1.0
    max_restarts: int = 5
    restart_window_s: float = 300.0
    backoff_max_s: float = 30.0
    max_actions_per_minute: int = 12
    zombie_grace_s: float = 60.0
    stop_wait_s: float = 10.0
    loop_block_ms: int = 250
    heartbeat_budget_s: float = 90.0
    wake_verify_s: float = 30.0
    wake_retries: int = 3
    alert_command: tuple[str, ...] = ()
    notice_command: tuple[str, ...] = ()
    auto_respawn: bool = True
    auto_reap: bool = True


@dataclass(frozen=True)
class ClaudeConfig:
    config_dir: Path = Path("~/.claude")
    # Whether the file set config_dir: only then is CLAUDE_CONFIG_DIR exported to agents,
    # because setting it moves Claude Code's global settings file.
    explicit: bool = False
    # SPEC §8: claude-code agents get `--settings STATE/hooks/<agent>.json` relaying their hooks to the cockpit
    hooks: bool = True


@dataclass(frozen=True)
class CodexConfig:
    home: Path = Path("~/.codex")
    explicit: bool = False


@dataclass(frozen=True)
class RoutesConfig:
    file: Path | None = None


@dataclass(frozen=True)
class AgentConfig:
    name: str
    command: tuple[str, ...]
    kind: str = "generic"
    cwd: Path = Path("~")
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    port: int | None = None
    restart: str = "on-failure"


@dataclass(frozen=True)
class WrapperRule:
    match: str
    output: str | None = None


@dataclass(frozen=True)
class LogSource:
    name: str
    path: Path
    pattern: str = DEFAULT_BLOCK_PATTERN


@dataclass(frozen=True)
class Canary:
    name: str
    every_s: float = 60.0
    command: tuple[str, ...] = ()
    expect: str | None = None
    expect_file: Path | None = None
    max_age_s: float | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class DoctorConfig:
    args: tuple[str, ...] = ()
    boot_s: float = 20.0
    fail_patterns: tuple[str, ...] = DEFAULT_FAIL_PATTERNS
    ready_pattern: str | None = None


SEVERITIES = ("critical", "warning", "info")
DEFAULT_METRICS_HOST = "127.0.0.1"  # loopback unless the operator names another address


@dataclass(frozen=True)
class NotifyConfig:
    """SPEC §10: Apprise URLs told once per transition of a finding at or above ``min_severity``."""
    urls: tuple[str, ...] = ()
    min_severity: str = "critical"
    on_resolve: bool = False
    max_per_minute: int = 6
    timeout_s: float = 20.0  # one message to all channels; a slower channel counts as failed


@dataclass(frozen=True)
class MetricsConfig:
    """SPEC §10: Prometheus exposition on ``listen`` ("HOST:PORT", loopback by default) and/or a textfile."""
    listen: str | None = None
    textfile: Path | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """``listen`` as (host, port); a bare port or ":PORT" binds to loopback."""
        return None if self.listen is None else split_listen(self.listen)


def split_listen(text: str) -> tuple[str, int]:
    """ "127.0.0.1:9464", "[::1]:9464", ":9464", "9464" -> (host, port); ValueError when it is none of these."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port.isdigit() or int(port) > 65535 or (host and any(c.isspace() for c in host)):
        raise ValueError(text)
    return host or DEFAULT_METRICS_HOST, int(port)


@dataclass(frozen=True)
class HostConfig:
    """SPEC §9: another machine running its own cockpit, reached through one SSH session."""
    name: str
    ssh: tuple[str, ...] = ()      # the local argv that reaches it; the remote command is appended as one word
    cockpit: tuple[str, ...] = ("cockpit",)  # the remote command's argv
    config: str | None = None      # the remote config path; None: the remote's own default

    @property
    def ssh_argv(self) -> tuple[str, ...]:
        return self.ssh or ("ssh", "-T", "-o", "BatchMode=yes", self.name)


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    tmux: TmuxConfig = TmuxConfig()
    state: StateConfig = StateConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    claude: ClaudeConfig = ClaudeConfig()
    codex: CodexConfig = CodexConfig()
    routes: RoutesConfig = RoutesConfig()
    agents: tuple[AgentConfig, ...] = ()
    wrappers: tuple[WrapperRule, ...] = ()
    logs: tuple[LogSource, ...] = ()
    canaries: tuple[Canary, ...] = ()
    doctor: DoctorConfig = DoctorConfig()
    notify: NotifyConfig = NotifyConfig()
    metrics: MetricsConfig = MetricsConfig()
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hosts: tuple[HostConfig, ...] = ()

    def host(self, name: str) -> HostConfig:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts) or "none"
        raise ConfigError(self.path, "hosts", f"no host named {name!r} (known: {known})")

    def agent(self, name: str) -> AgentConfig:
        for agent in self.agents:
            if agent.name == name:
                return agent
        known = ", ".join(a.name for a in self.agents) or "none"
        raise ConfigError(self.path, "agents", f"no agent named {name!r} (known: {known})")


# --- finding the file -------------------------------------------------------------------------


def find_config_path(explicit: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Path:
    """``--config``, else ``$COCKPIT_CONFIG``, else ``$XDG_CONFIG_HOME/cockpit/cockpit.toml``."""
    env = os.environ if env is None else env
    if explicit:
        return _expand_home(os.fspath(explicit), env)
    if env.get("COCKPIT_CONFIG"):
        return _expand_home(env["COCKPIT_CONFIG"], env)
    xdg = env.get("XDG_CONFIG_HOME")
    if not xdg or not os.path.isabs(xdg):  # the XDG spec: a relative path is invalid, ignore it
        return _expand_home("~/.config", env) / "cockpit" / "cockpit.toml"
    return Path(xdg) / "cockpit" / "cockpit.toml"


def _expand_home(text: str, env: Mapping[str, str]) -> Path:
    """``~`` and ``~/...`` from ``env["HOME"]`` when given; ``~user`` as the OS does."""
    if text == "~" or text.startswith("~/"):
        home = env.get("HOME")
        if home:
            return Path(home + text[1:])
    return Path(os.path.expanduser(text))


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; raises ``ConfigError`` with one clear line."""
    path = Path(path)
    env = os.environ if env is None else env
    raw = _read_bounded(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "(file)", f"expected UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or e.g. an integer too long to convert
        raise ConfigError(path, "(syntax)", f"expected valid TOML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise ConfigError(path, "(syntax)", "expected TOML nested at most a few hundred levels deep") from None
    return parse_config(data, path=path, env=env)


def _read_bounded(path: Path) -> bytes:
    """The config's bytes: a regular file of at most MAX_CONFIG_BYTES (never a FIFO that blocks, an
    endless device or a huge file read into memory)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(path, "(file)", "no such file; pass --config FILE or set $COCKPIT_CONFIG") from None
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot be read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(path, "(file)", "cannot be read: is a directory; expected a TOML file")
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(path, "(file)", "cannot be read: not a regular file (a FIFO or a device); expected a TOML file")
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(path, "(file)", f"larger than {MAX_CONFIG_BYTES} bytes; expected a config file")
        chunks = []
        size = 0
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_CONFIG_BYTES:
                raise ConfigError(path, "(file)", f"larger than {MAX_CONFIG_BYTES} bytes; expected a config file")
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def parse_config(data: Mapping[str, Any], path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    return _Parser(path, os.environ if env is None else env).config(data)


# --- the parser -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, path: Path | None, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = env

    def fail(self, key: str, expected: str) -> ConfigError:
        return ConfigError(self.path, key, expected)

    # primitive readers -------------------------------------------------------------------

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_describe(value)}")
        return value

    def check_keys(self, table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                choices = ", ".join(sorted(allowed))
                raise self.fail(f"{prefix}{key}", f"unknown key (expected one of: {choices})")

    def number(self, value: Any, key: str, *, minimum: float = 0.0, strict: bool = True,
               maximum: float = MAX_NUMBER) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number, got {_describe(value)}")
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise self.fail(key, f"expected a finite number {bound}, got {_describe(value)}")
        if (strict and number <= minimum) or (not strict and number < minimum):
            raise self.fail(key, f"expected a number {bound}, got {_describe(value)}")
        if number > maximum:  # numbers from users are bounded: a timer of a thousand years is a typo
            raise self.fail(key, f"expected a number {bound} and at most {maximum:g}, got {_describe(value)}")
        return number

    def integer(self, value: Any, key: str, *, minimum: int = 0, maximum: int | None = MAX_INTEGER) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {_describe(value)}")
        if value < minimum:
            raise self.fail(key, f"expected an integer >= {minimum}, got {_describe(value)}")
        if maximum is not None and value > maximum:
            raise self.fail(key, f"expected an integer {minimum}..{maximum}, got {_describe(value)}")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {_describe(value)}")
        return value

    def string(self, value: Any, key: str, *, empty: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_describe(value)}")
        if not empty and not value:
            raise self.fail(key, "expected a non-empty string")
        if "\x00" in value:
            raise self.fail(key, "expected a string without NUL characters")
        return value

    def choice(self, value: Any, key: str, choices: tuple[str, ...]) -> str:
        text = self.string(value, key)
        if text not in choices:
            raise self.fail(key, f"expected one of {', '.join(repr(c) for c in choices)}, got {text!r}")
        return text

    def argv(self, value: Any, key: str, *, allow_empty: bool = True) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings (an argv, never a shell string), got {_describe(value)}")
        items = tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(value))
        if not allow_empty and not items:
            raise self.fail(key, "expected a non-empty list of strings")
        if items:
            items = (self.expand(items[0], f"{key}[0]"),) + items[1:]
        return items

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings, got {_describe(value)}")
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(value))

    def regex(self, value: Any, key: str, *, group: str | None = None) -> str:
        text = self.string(value, key)
        try:
            compiled = re.compile(text)
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}, (((...))) nested too deep
            raise self.fail(key, f"expected a valid regular expression ({exc})") from None
        if group and group not in compiled.groupindex:
            raise self.fail(key, f"expected a regular expression with a named group (?P<{group}>...)")
        return text

    def expand(self, text: str, key: str) -> str:
        """``~`` and ``$VARS``; an unset variable is an error, not a silent literal."""

        def var(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name not in self.env:
                raise self.fail(key, f"${name} is not set in the environment")
            return self.env[name]

        text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", var, text)
        if text.startswith("~"):
            home = self.env.get("HOME")
            if text == "~" or text.startswith("~/"):
                text = (home or str(Path.home())) + text[1:]
            else:
                text = os.path.expanduser(text)
        return text

    def pathval(self, value: Any, key: str) -> Path:
        return Path(self.expand(self.string(value, key), key))

    # sections ----------------------------------------------------------------------------

    def section(self, data: Mapping[str, Any], name: str, cls: type, readers: Mapping[str, Any]) -> Any:
        if name not in data:
            return cls()
        table = self.table(data[name], name)
        self.check_keys(table, set(readers), f"{name}.")
        values = {key: readers[key](table[key], f"{name}.{key}") for key in table}
        return cls(**values)

    def config(self, data: Mapping[str, Any]) -> Config:
        sections = {"tmux", "state", "supervisor", "claude", "codex", "routes", "agents", "wrappers",
                    "logs", "canaries", "doctor", "keys", "notify", "metrics", "hosts"}
        self.table(data, "(top level)")
        self.check_keys(data, sections, "")

        tmux = self.section(data, "tmux", TmuxConfig, {
            "socket": lambda v, k: self._socket_name(v, k),
            "socket_path": self.pathval,
            "session": lambda v, k: self._session_name(v, k),
        })
        state = self.section(data, "state", StateConfig, {"dir": self.pathval})
        supervisor = self._supervisor(data)
        claude = self.section(data, "claude", ClaudeConfig, {"config_dir": self.pathval, "hooks": self.boolean})
        if "config_dir" in data.get("claude", {}):
            claude = ClaudeConfig(config_dir=claude.config_dir, explicit=True, hooks=claude.hooks)
        else:
            claude = ClaudeConfig(config_dir=self._expand_default(claude.config_dir), hooks=claude.hooks)
        codex = self.section(data, "codex", CodexConfig, {"home": self.pathval})
        if "home" in data.get("codex", {}):
            codex = CodexConfig(home=codex.home, explicit=True)
        else:
            codex = CodexConfig(home=self._expand_default(codex.home))
        routes = self.section(data, "routes", RoutesConfig, {"file": self.pathval})
        doctor = self.section(data, "doctor", DoctorConfig, {
            "args": self.strings,
            "boot_s": self.number,
            "fail_patterns": lambda v, k: tuple(self.regex(p, f"{k}[{i}]") for i, p in enumerate(self.strings(v, k))),
            "ready_pattern": self.regex,
        })
        if "dir" not in data.get("state", {}):
            state = StateConfig(dir=self._expand_default(state.dir))
        return Config(
            path=self.path,
            tmux=tmux,
            state=state,
            supervisor=supervisor,
            claude=claude,
            codex=codex,
            routes=routes,
            agents=self._agents(data.get("agents", [])),
            wrappers=self._array(data, "wrappers", self._wrapper),
            logs=self._array(data, "logs", self._log),
            canaries=self._array(data, "canaries", self._canary),
            doctor=doctor,
            notify=self._notify(data),
            metrics=self._metrics(data),
            keys=self._keys(data.get("keys", {})),
            hosts=self._hosts(data.get("hosts", [])),
        )

    def _expand_default(self, path: Path) -> Path:
        return Path(self.expand(str(path), "(default)")) if str(path).startswith("~") else path

    def _socket_name(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if "/" in text:
            raise self.fail(key, "expected a socket name for tmux -L (use tmux.socket_path for a path)")
        return text

    def _session_name(self, value: Any, key: str) -> str:
        text = self.string(value, key)
        if any(c in text for c in ":.") or not text.isprintable():
            raise self.fail(key, "expected a tmux session name without ':' or '.'")
        return text

    def _supervisor(self, data: Mapping[str, Any]) -> SupervisorConfig:
        def num(minimum: float = 0.0, strict: bool = True):
            return lambda v, k: self.number(v, k, minimum=minimum, strict=strict)

        readers = {
            "tick_s": num(), "spawn_verify_s": num(), "min_uptime_s": num(strict=False),
            "max_restarts": lambda v, k: self.integer(v, k, minimum=0),
            "restart_window_s": num(), "backoff_max_s": num(),
            "max_actions_per_minute": lambda v, k: self.integer(v, k, minimum=1),
            "zombie_grace_s": num(strict=False), "stop_wait_s": num(strict=False),
            "loop_block_ms": lambda v, k: self.integer(v, k, minimum=1),
            "heartbeat_budget_s": num(), "wake_verify_s": num(),
            "wake_retries": lambda v, k: self.integer(v, k, minimum=0),
            "alert_command": self.argv, "notice_command": self.argv,
            "auto_respawn": self.boolean, "auto_reap": self.boolean,
        }
        sup = self.section(data, "supervisor", SupervisorConfig, readers)
        if sup.min_uptime_s > sup.spawn_verify_s:
            raise self.fail("supervisor.min_uptime_s",
                            f"expected at most supervisor.spawn_verify_s ({sup.spawn_verify_s:g}), got {sup.min_uptime_s:g}")
        return sup

    def _array(self, data: Mapping[str, Any], name: str, reader) -> tuple:
        value = data.get(name, [])
        if not isinstance(value, list):
            raise self.fail(name, f"expected an array of tables ([[{name}]]), got {_describe(value)}")
        return tuple(reader(self.table(item, f"{name}[{i}]"), f"{name}[{i}]") for i, item in enumerate(value))

    def _agents(self, value: Any) -> tuple[AgentConfig, ...]:
        return self._unique(self._array({"agents": value}, "agents", self._agent), "agents", "agent")

    def _agent(self, table: Mapping[str, Any], prefix: str) -> AgentConfig:
        allowed = {"name", "kind", "cwd", "command", "env", "port", "restart"}
        self.check_keys(table, allowed, f"{prefix}.")
        for required in ("name", "command"):
            if required not in table:
                raise self.fail(f"{prefix}.{required}", "is required")
        name = self.string(table["name"], f"{prefix}.name")
        if not _NAME_RE.match(name):
            raise self.fail(f"{prefix}.name", f"expected letters, digits, '.', '_' or '-' (at most 64), got {name!r}")
        kwargs: dict[str, Any] = {
            "name": name,
            "command": self.argv(table["command"], f"{prefix}.command", allow_empty=False),
        }
        if "kind" in table:
            kwargs["kind"] = self.choice(table["kind"], f"{prefix}.kind", AGENT_KINDS)
        kwargs["cwd"] = self.pathval(table.get("cwd", "~"), f"{prefix}.cwd")
        if "env" in table:
            env = self.table(table["env"], f"{prefix}.env")
            kwargs["env"] = MappingProxyType({
                self._env_name(k, f"{prefix}.env"): self.string(v, f"{prefix}.env.{k}", empty=True)
                for k, v in env.items()
            })
        if "port" in table:
            port = self.integer(table["port"], f"{prefix}.port", minimum=1, maximum=None)
            if port > 65535:
                raise self.fail(f"{prefix}.port", f"expected a TCP port 1-65535, got {_describe(port)}")
            kwargs["port"] = port
        if "restart" in table:
            kwargs["restart"] = self.choice(table["restart"], f"{prefix}.restart", RESTART_POLICIES)
        return AgentConfig(**kwargs)

    def _env_name(self, key: str, where: str) -> str:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise self.fail(f"{where}.{key}", "expected an environment variable name")
        return key

    def _wrapper(self, table: Mapping[str, Any], prefix: str) -> WrapperRule:
        self.check_keys(table, {"match", "output"}, f"{prefix}.")
        if "match" not in table:
            raise self.fail(f"{prefix}.match", "is required (a regex on the command line)")
        output = self.expand(self.string(table["output"], f"{prefix}.output"), f"{prefix}.output") if "output" in table else None
        return WrapperRule(match=self.regex(table["match"], f"{prefix}.match"), output=output)

    def _log(self, table: Mapping[str, Any], prefix: str) -> LogSource:
        self.check_keys(table, {"name", "path", "pattern"}, f"{prefix}.")
        for required in ("name", "path"):
            if required not in table:
                raise self.fail(f"{prefix}.{required}", "is required")
        kwargs: dict[str, Any] = {
            "name": self.string(table["name"], f"{prefix}.name"),
            "path": self.pathval(table["path"], f"{prefix}.path"),
        }
        if "pattern" in table:
            kwargs["pattern"] = self.regex(table["pattern"], f"{prefix}.pattern", group="ms")
        return LogSource(**kwargs)

    def _canary(self, table: Mapping[str, Any], prefix: str) -> Canary:
        self.check_keys(table, {"name", "every_s", "command", "expect", "expect_file", "max_age_s", "timeout_s"}, f"{prefix}.")
        if "name" not in table:
            raise self.fail(f"{prefix}.name", "is required")
        kwargs: dict[str, Any] = {"name": self.string(table["name"], f"{prefix}.name")}
        if "every_s" in table:
            kwargs["every_s"] = self.number(table["every_s"], f"{prefix}.every_s")
        if "timeout_s" in table:
            kwargs["timeout_s"] = self.number(table["timeout_s"], f"{prefix}.timeout_s")
        if "command" in table:
            kwargs["command"] = self.argv(table["command"], f"{prefix}.command", allow_empty=False)
        if "expect" in table:
            kwargs["expect"] = self.regex(table["expect"], f"{prefix}.expect")
        if "expect_file" in table:
            kwargs["expect_file"] = self.pathval(table["expect_file"], f"{prefix}.expect_file")
        if "max_age_s" in table:
            kwargs["max_age_s"] = self.number(table["max_age_s"], f"{prefix}.max_age_s")
        has_command = "command" in kwargs and "expect" in kwargs
        has_file = "expect_file" in kwargs and "max_age_s" in kwargs
        if has_command == has_file:
            raise self.fail(prefix, "expected either command + expect, or expect_file + max_age_s")
        return Canary(**kwargs)

    def _notify(self, data: Mapping[str, Any]) -> NotifyConfig:
        return self.section(data, "notify", NotifyConfig, {
            "urls": lambda v, k: tuple(self._notify_url(u, f"{k}[{i}]") for i, u in enumerate(self.strings(v, k))),
            "min_severity": lambda v, k: self.choice(v, k, SEVERITIES),
            "on_resolve": self.boolean,
            "max_per_minute": lambda v, k: self._bounded_int(v, k, 1, 600),
            "timeout_s": lambda v, k: min(self.number(v, k), 300.0),
        })

    def _notify_url(self, value: str, key: str) -> str:
        url = self.expand(value, key)  # a token can live in the environment: "tgram://$TG_TOKEN/..."
        if "://" not in url or any(c.isspace() for c in url):
            raise self.fail(key, "expected an Apprise URL such as 'ntfy://topic' or 'json://host:port/path'")
        return url

    def _bounded_int(self, value: Any, key: str, low: int, high: int) -> int:
        number = self.integer(value, key, minimum=low)
        if number > high:
            raise self.fail(key, f"expected an integer from {low} to {high}, got {_describe(number)}")
        return number

    def _metrics(self, data: Mapping[str, Any]) -> MetricsConfig:
        def listen(value: Any, key: str) -> str:
            text = self.string(value, key)
            try:
                split_listen(text)
            except ValueError:
                raise self.fail(key, f"expected HOST:PORT (e.g. \"127.0.0.1:9464\"), got {_describe(text)}") from None
            return text

        return self.section(data, "metrics", MetricsConfig, {"listen": listen, "textfile": self.pathval})

    def _hosts(self, value: Any) -> tuple[HostConfig, ...]:
        return self._unique(self._array({"hosts": value}, "hosts", self._host), "hosts", "host")

    def _unique(self, items: tuple, table: str, kind: str) -> tuple:
        """``items`` of ``[[table]]`` whose names are unique, else the second use named."""
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                raise self.fail(f"{table}[{i}].name", f"expected a unique {kind} name, {item.name!r} is used twice")
            seen.add(item.name)
        return items

    def _host(self, table: Mapping[str, Any], prefix: str) -> HostConfig:
        self.check_keys(table, {"name", "ssh", "cockpit", "config"}, f"{prefix}.")
        if "name" not in table:
            raise self.fail(f"{prefix}.name", "is required")
        name = self.string(table["name"], f"{prefix}.name")
        if not _NAME_RE.match(name):  # HOST/NAME must split at its one '/'
            raise self.fail(f"{prefix}.name", f"expected letters, digits, '.', '_' or '-' (at most 64), got {name!r}")
        kwargs: dict[str, Any] = {"name": name}
        if "ssh" in table:
            kwargs["ssh"] = self.argv(table["ssh"], f"{prefix}.ssh", allow_empty=False)
        if "cockpit" in table:  # run there: no local expansion of ~ or $VARS
            kwargs["cockpit"] = self.strings(table["cockpit"], f"{prefix}.cockpit")
            if not kwargs["cockpit"]:
                raise self.fail(f"{prefix}.cockpit", "expected a non-empty list of strings")
        if "config" in table:
            kwargs["config"] = self.string(table["config"], f"{prefix}.config")
        return HostConfig(**kwargs)

    def _keys(self, value: Any) -> Mapping[str, str]:
        table = self.table(value, "keys")
        self.check_keys(table, set(KEY_BINDING_IDS), "keys.")
        return MappingProxyType({str(k): self.string(v, f"keys.{k}") for k, v in table.items()})


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        if abs(value) >= 10**30:  # str() of a huge int is slow or raises (sys.set_int_max_str_digits)
            return f"an integer ({'-' if value < 0 else ''}{value.bit_length()}-bit)"
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value:g})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return f"a date/time ({value.isoformat()})"
    return type(value).__name__


def config_fields(cls: type) -> list[str]:
    """The keys of one section, for documentation checks."""
    return [f.name for f in fields(cls) if f.name != "explicit"]

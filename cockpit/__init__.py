"""cockpit: a terminal cockpit that supervises fleets of CLI coding agents in tmux."""

__version__ = "0.1.0"
SCHEMA = 1  # the report's schema (`check --json`, SPEC §4); a host's `serve --stdio` hello says it too (SPEC §9)

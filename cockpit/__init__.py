"""cockpit: a terminal cockpit that supervises fleets of CLI coding agents in tmux."""

__version__ = "0.1.0"

"""The cockpit's TUI (Textual). The only package that imports textual: the domain runs without it."""

from cockpit.tui.app import CockpitApp, TuiSettings, create_app

__all__ = ["CockpitApp", "TuiSettings", "create_app"]

"""The command palette: every action for every agent, by name ("Respawn tabs", "Attach to tabs")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content


@dataclass(frozen=True)
class PaletteCommand:
    text: str
    help: str
    callback: Callable[[], object]
    unavailable: str | None = None  # why it cannot run now (it still explains itself when chosen)


class HasPaletteCommands(Protocol):
    def palette_commands(self) -> Iterable[PaletteCommand]: ...


def _display(command: PaletteCommand, prompt: Content) -> Content:
    if command.unavailable is None:
        return prompt
    return prompt.stylize("dim").append(Content.styled(f"  unavailable: {command.unavailable}", "italic $text-warning"))


class AgentCommands(Provider):
    """Commands from the app's agents and actions; unavailable ones are shown dimmed and annotated."""

    def _commands(self) -> list[PaletteCommand]:
        app = self.app
        if not hasattr(app, "palette_commands"):
            return []
        return list(app.palette_commands())  # type: ignore[attr-defined]

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(_display(command, Content(command.text)), command.callback, text=command.text,
                               help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.text)
            if score > 0:
                yield Hit(score, _display(command, matcher.highlight(command.text)), command.callback,
                          text=command.text, help=command.help)

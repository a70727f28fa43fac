"""Talking to an agent (SPEC §11): ``c`` reads its conversation, live; ``s`` sends it a line.

``ConversationScreen`` shows the last turns of the agent's current transcript (user text,
assistant text rendered as Markdown, one line per tool call with its name and main argument),
read from the end of the file by ``cockpit.observe.conversation.ConversationTail`` in a worker
thread and followed every ``POLL_S``: new records are appended and, when the view was at the
bottom, scrolled to. When the agent moves to another transcript (a new session, a respawn), the
view follows it. ``SendForm`` is the one-line input of ``s``; the app sends through the
supervisor (typed literally, verified like a wake) and toasts the verified result.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from rich.markdown import Markdown
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

POLL_S = 0.5
MAX_SHOWN = 300  # entries kept on screen (the reader keeps the same number)


def entry_widget(entry: Any) -> Static:
    """One entry as a widget: ``› prompt``, a Markdown reply, ``⏺ Tool  argument``, or a system line."""
    if entry.role == "user":
        return Static(Text.assemble(("› ", "bold"), entry.text), classes="conv-user")
    if entry.role == "assistant":
        return Static(Markdown(entry.text), classes="conv-assistant")
    if entry.role == "tool":
        return Static(Text.assemble(("⏺ ", "dim"), (entry.tool or "?", "bold"), "  ", (entry.text, "dim")),
                      classes="conv-tool")
    return Static(Text(entry.text, style="italic"), classes="conv-system")


class ConversationScreen(ModalScreen[None]):
    """``c``: the selected agent's conversation, live and scrollable.

    ``source`` returns the reader of the agent's current transcript (``ConversationTail`` or
    anything with ``path``, ``update() -> (reset, entries)``, ``bad_lines``, ``error``,
    ``complete``), or None while the agent has no known transcript. It is called from a worker
    thread each poll; a reader for another path means the agent moved to another transcript.
    """

    BINDINGS = [
        Binding("escape,c,q", "close", "Close", id="conversation_close"),
        Binding("end,G", "follow", "Newest", id="conversation_follow", tooltip="Scroll to the newest turn"),
    ]

    def __init__(self, agent: str, source: Callable[[], Any], *, poll_s: float = POLL_S) -> None:
        super().__init__(id="conversation")
        self.agent = agent
        self.source = source
        self.poll_s = poll_s
        self.tail: Any = None
        self.shown = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="conversation-dialog") as dialog:
            dialog.border_title = f"{self.agent}: conversation"
            dialog.border_subtitle = "↑↓ pgup pgdn scroll · end newest · escape closes"
            yield Static("reading…", id="conversation-status")
            yield VerticalScroll(id="conversation-log")

    def on_mount(self) -> None:
        self.query_one("#conversation-log", VerticalScroll).focus()
        self.poll()
        self.set_interval(self.poll_s, self.poll)

    @work(thread=True, exclusive=True, group="conversation", exit_on_error=False)
    def poll(self) -> None:
        """Read what is new (a worker thread: never the event loop)."""
        tail = self.source()
        moved = tail is not None and (self.tail is None or tail.path != self.tail.path)
        if moved:
            self.tail = tail
        elif tail is None and self.tail is None:
            self.app.call_from_thread(self._show, None, True, [])
            return
        reset, entries = self.tail.update()
        if reset or moved or entries:
            self.app.call_from_thread(self._show, self.tail, reset or moved, entries)
        else:
            self.app.call_from_thread(self._status, self.tail)

    def _status(self, tail: Any) -> None:
        status = self.query_one("#conversation-status", Static)
        if tail is None:
            status.update(f"no transcript of {self.agent} yet: it has taken no turn, or its session is unknown")
            return
        if tail.error and not self.shown:
            status.update(f"no transcript at {tail.path} yet: Claude Code writes it at the session's first turn "
                          f"({tail.error.removeprefix(tail.path + ': ')})")
            return
        parts = [tail.path, f"{self.shown} entries" + ("" if tail.complete else " (the newest; older ones not read)")]
        if tail.bad_lines:
            parts.append(f"{tail.bad_lines} unreadable line{'s' if tail.bad_lines != 1 else ''} skipped")
        if tail.error:
            parts.append(tail.error)
        status.update(Text(" · ".join(parts), style="dim"))

    def _show(self, tail: Any, reset: bool, entries: Iterable[Any]) -> None:
        log = self.query_one("#conversation-log", VerticalScroll)
        at_end = log.scroll_y >= log.max_scroll_y - 1
        if reset:
            log.remove_children()
            self.shown = 0
        widgets = [entry_widget(e) for e in entries]
        if widgets:
            log.mount_all(widgets)
            self.shown += len(widgets)
        extra = self.shown - MAX_SHOWN
        if extra > 0:
            for child in list(log.children)[:extra]:
                child.remove()
            self.shown -= extra
        self._status(tail)
        if reset or at_end:
            log.scroll_end(animate=False, immediate=False)

    def action_follow(self) -> None:
        self.query_one("#conversation-log", VerticalScroll).scroll_end(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)


class SendForm(ModalScreen["str | None"]):
    """``s``: one line for the selected agent; enter sends (the app toasts the verified result)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="send_cancel")]

    def __init__(self, agent: str) -> None:
        super().__init__(id="send-form")
        self.agent = agent

    def compose(self) -> ComposeResult:
        with Vertical(id="send-dialog") as dialog:
            dialog.border_title = f"Send to {self.agent}"
            dialog.border_subtitle = "enter sends · escape cancels"
            yield Static("Typed into its pane as one line, then verified: the agent must show the turn.",
                         id="send-hint")
            yield Input(placeholder=f"what to tell {self.agent}", id="send-input")
            yield Static("", id="send-error")

    def on_mount(self) -> None:
        self.query_one("#send-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        if not text.strip():
            self.query_one("#send-error", Static).update("nothing to send: type a line first")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)

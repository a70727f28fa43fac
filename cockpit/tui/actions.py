"""The operator's actions as data (Harlequin's ``HARLEQUIN_ACTIONS`` is the model).

One row per action: its id (the binding id a keymap remaps), key, label, tooltip, whether it changes
the world (refused in read-only mode), why it cannot run now, the confirmation it asks first, what it
runs, and how its result is told. From this one table the app makes its key bindings, the palette's
entries, the footer's dimmed keys and their explained refusals, and the request → confirm → run flow.

To add an action, add a row (``ACTIONS``); its functions take the app (``CockpitApp``) and a
``Target``. The action layer below still refuses on its own (read-only, the leader lock): the UI
only explains early.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Iterable, NamedTuple

from textual.binding import Binding

from cockpit.act.spawn import plan_launch
from cockpit.tui.messages import ActionDone
from cockpit.tui.screens import (ConfirmCancelReminder, ConfirmReap, ConfirmRemote, ConfirmRepoint, ConfirmRespawn,
                                 ReminderForm)
from cockpit.tui.conversation import SendForm
from cockpit.tui.render import shown_status
from cockpit.tui.tabs import TABS, TabView
from cockpit.tui.tabs.sessions import session_sides

NEW_SESSION = "<new session id>"
TAB_KEYS = Binding.Group("Tabs", compact=True)  # the footer shows "12345 Tabs"; help lists each
REAP_KEYS = Binding.Group("Reap")


@dataclass(frozen=True)
class Target:
    """What an action acts on. Empty fields mean "what is selected" (each action's ``select`` fills them)."""
    agent: str | None = None
    wrapper: str | None = None     # a wrapper's id (pid:start) or name
    reminder: str | None = None
    force: bool = False            # respawn: the agent is live, the confirmation said it gets killed
    payload: Any = None            # what the confirmation produced (the reminder form's request...)


@dataclass(frozen=True)
class PaletteEntry:
    """One palette line per agent, open reminder, live wrapper, or once (``over="app"``).

    ``text`` and ``help`` are formatted with the item's fields: ``{name}`` (agent or wrapper), ``{id}``,
    ``{pid}``, ``{state}``, ``{verb}``, ``{agent}``, ``{text}`` (a reminder's, first 60 characters).
    """
    text: str
    help: str
    over: str = "agent"


App = Any  # the CockpitApp (kept loose here: the app module imports this one)
WhyNot = Callable[[App, Target], "str | None"]


@dataclass(frozen=True)
class Action:
    """One operator action; see the module's docstring."""
    id: str
    key: str | None               # None: palette only
    label: str
    tooltip: str
    run: Callable[[App, Target], Any]          # sync, or async (then run in a worker)
    mutating: bool = False                     # refused in read-only mode
    explained: bool = False                    # when unavailable: dimmed in the footer, its key says why
    why_not: WhyNot | None = None
    confirm: Callable[[App, Target], Awaitable[Target | None]] | None = None
    result: Callable[[App, ActionDone], None] | None = None   # how a finished run is told (default: toast)
    select: Callable[[App], Target] | None = None   # what the key acts on (default: the selected agent)
    palette: tuple[PaletteEntry, ...] = ()
    footer: Callable[[App], bool] | None = None  # False: not in the footer now (and the key is inert)
    exists: Callable[[App], bool] | None = None  # False: no such action in this cockpit (the demo's keys)
    group: Binding.Group | None = None
    priority: bool = False
    binding_action: str | None = None          # a Textual action to bind instead of ``act('<id>')``
    worker: str = "actions"                    # the worker group an async run goes in
    exclusive: bool = False

    @property
    def verb(self) -> str:
        """``reap`` for reap_now, ``add reminder`` for add_reminder: how refusals name it."""
        return self.id.replace("_now", "").replace("_", " ")

    def binding(self) -> Binding:
        assert self.key is not None
        return Binding(self.key, self.binding_action or f"act('{self.id}')", self.label, id=self.id,
                       tooltip=self.tooltip, group=self.group, priority=self.priority)


# --- why not (what the UI can tell before the action layer decides again, fresh) ------------------


def need_agent(app: App, target: Target) -> str | None:
    return "select an agent first" if target.agent is None else None


def attach_blocker(app: App, target: Target) -> str | None:
    if target.agent is None:
        return "select an agent first"
    status = app.agent_status(target.agent)
    if status is None or status.pane is None:
        return f"{target.agent} has no tmux window to attach to"
    return None


def remote_host(app: App, name: str | None) -> str | None:
    """SPEC §9: the host of a remote agent (its row says), None for a local one."""
    status = app.agent_status(name) if name is not None else None
    return status.host if status is not None else None


async def confirm_remote(app: App, target: Target, verb: str, *, destructive: bool = False) -> Target | None:
    """A remote agent's act, confirmed with what its host last reported (its host decides again, fresh)."""
    status = app.agent_status(target.agent)
    if status is None or status.host is None:
        return None
    facts = [("state", shown_status(status)), ("pid", str(status.pid or "-")), ("pane", status.pane or "-")]
    if verb == "repoint":
        facts += [("record", status.route_session or "no entry"), ("disk", status.disk_session or "unknown")]
    live = status.pid is not None
    if await app.push_screen_wait(ConfirmRemote(verb, status.name, status.host, facts,
                                                destructive=destructive or (verb == "respawn" and live))):
        return replace(target, force=live) if verb == "respawn" else target
    return None


def repoint_blocker(app: App, target: Target) -> str | None:
    """Why ``p`` has nothing to do for the agent (the action layer decides again, fresh, before writing)."""
    name = target.agent
    if name is None:
        return "select an agent first"
    if remote_host(app, name) is not None:
        return None  # its host judges its sessions; it refuses there, with its reason, when nothing is to do
    truth, route = session_sides(app.report, name)
    if truth is None:
        return f"no session observation of {name} yet"
    if truth.ambiguous:
        return f"{name}'s session is ambiguous (see the Sessions tab): cockpit does not guess"
    if truth.disk_session is None:
        return f"no session of {name} is on disk: nothing to repoint its record to"
    record = route.session_id if route is not None else None
    if record is not None and record.lower() == truth.disk_session.lower():
        return f"{name}'s routing record already points at its disk session {truth.disk_session[:8]}"
    return None


def local_only(what: str) -> WhyNot:
    """An action that reads this machine's files for the agent (its transcript, its CLI): not for a remote one."""
    def why_not(app: App, target: Target) -> str | None:
        if target.agent is None:
            return "select an agent first"
        host = remote_host(app, target.agent)
        return f"{target.agent} runs on {host}: {what} is read on that machine" if host is not None else None
    return why_not


def send_blocker(app: App, target: Target) -> str | None:
    """An agent that is not running has no prompt to type into (the action layer checks again, fresh)."""
    if target.agent is None:
        return "select an agent first"
    status = app.agent_status(target.agent)
    if status is None or status.pid is None:
        return f"{target.agent} is not running: nothing to type into"
    return None


def reap_plan(app: App, target: Target, *, now: bool = False) -> tuple[str | None, list[Any], str | None]:
    """What a reap would act on: ``(target for Supervisor.reap, its wrappers, why not)``.

    Nothing named: the wrapper selected in the Zombies tab when it has focus, else the selected
    agent's zombie wrappers. ``now`` (ctrl+k, no question asked) takes zombies only.
    """
    wrapper, agent = target.wrapper, target.agent
    wrappers = app.wrappers
    if wrapper is None and agent is None:
        if app.zombies_focused():
            wrapper = app.tab("zombies").selected_key
            if wrapper is None:
                return None, [], "select a wrapper in the Zombies tab first"
        else:
            agent = app.selected_agent
            if agent is None:
                return None, [], "select an agent (its zombie wrappers) or a wrapper in the Zombies tab"
    host = remote_host(app, agent) if wrapper is None else None
    if host is not None:  # its wrappers live there: the zombie findings its host reported say which
        report = app.report
        if report is None or not any(f.kind == "zombie_wrapper" and f.agent == agent for f in report.findings):
            return None, [], f"{agent} has no zombie wrappers (as {host} last reported)"
        return agent, [], None
    if wrapper is not None:
        view = wrappers.get(wrapper) or next((w for w in wrappers.values() if w.name == wrapper), None)
        if view is None:
            return None, [], f"no wrapper {wrapper} in the last tick"
        if not view.alive:
            return None, [], f"{view.name} is already gone ({view.state})"
        if now and view.state != "zombie":
            return None, [], f"{view.name} is {view.state}, not a zombie: k reaps it after asking"
        return view.id, [view], None
    zombies = [w for w in wrappers.values() if w.agent == agent and w.state == "zombie" and w.alive]
    if not zombies:
        return None, [], f"{agent} has no zombie wrappers"
    return agent, zombies, None


def reminder_to_cancel(app: App, target: Target) -> tuple[Any, str | None]:
    """The reminder x would cancel (the one selected in the Reminders tab), or why none."""
    ref = target.reminder
    if ref is None:
        return None, "select a reminder in the Reminders tab first"
    reminder = app.reminders.get(ref)
    if reminder is None:
        return None, f"no reminder {ref} in the last tick"
    if reminder.done:
        return None, f"{reminder.id} is already {reminder.state}"
    return reminder, None


# --- confirmations (each returns the confirmed target, or None) -----------------------------------


def respawn_preview(supervisor: Any, name: str) -> tuple[tuple[str, ...], str]:
    """The exact argv a respawn will run, and its cwd (a fresh session id is shown as a placeholder)."""
    agent = supervisor.config.agent(name)
    plan = plan_launch(agent, supervisor.config, supervisor.resume_for(agent))
    argv = plan.argv
    if plan.session_id and not plan.resumed:
        argv = tuple(a.replace(plan.session_id, NEW_SESSION) for a in argv)
    return argv, str(agent.cwd)


async def confirm_respawn(app: App, target: Target) -> Target | None:
    """Names the agent and the exact command; a live agent is said to be killed."""
    name = target.agent
    if remote_host(app, name) is not None:
        return await confirm_remote(app, target, "respawn")
    status = app.agent_status(name)
    argv, cwd = await asyncio.to_thread(respawn_preview, app.supervisor, name)
    live = status is not None and status.pid is not None
    state = shown_status(status) if status is not None else "unknown"
    if await app.push_screen_wait(ConfirmRespawn(name, argv, cwd=cwd, state=state, live=live)):
        return replace(target, force=live)
    return None


async def confirm_repoint(app: App, target: Target) -> Target | None:
    """Both sides, record → disk, with their last turns."""
    if remote_host(app, target.agent) is not None:
        return await confirm_remote(app, target, "repoint")
    report = app.report
    truth, route = session_sides(report, target.agent)
    findings = app.tab("sessions").findings.get(target.agent, [])
    sessions = report.sessions if report is not None else None
    confirmed = await app.push_screen_wait(ConfirmRepoint(
        target.agent, truth, route, findings=findings, now=report.at if report is not None else app.wall_clock()(),
        routes_file=sessions.routes_file if sessions is not None else None))
    return target if confirmed else None


class ReapOrder(NamedTuple):
    target: str     # what Supervisor.reap is given: an agent's name or a wrapper's id
    label: str      # how the operator knows it: the agent, or the wrapper's name
    owner: str | None
    views: list[Any]


def reap_order(app: App, target: Target, *, now: bool = False) -> Target | None:
    """``target`` resolved now (what is selected, named), with the reap's order as its payload."""
    resolved, views, _ = reap_plan(app, target, now=now)
    if resolved is None:
        return None
    owner = resolved if resolved not in app.wrappers else None
    return replace(target, payload=ReapOrder(resolved, owner or views[0].name, owner, views))


async def confirm_reap(app: App, target: Target) -> Target | None:
    """Names each wrapper, its pid and its result line."""
    ordered = reap_order(app, target)
    if ordered is None:
        return None
    order = ordered.payload
    if not order.views and remote_host(app, order.owner) is not None:
        confirmed = await confirm_remote(app, replace(target, agent=order.owner), "reap", destructive=True)
        return ordered if confirmed is not None else None
    stop_wait = app.supervisor.config.supervisor.stop_wait_s
    if await app.push_screen_wait(ConfirmReap(order.views, agent=order.owner, stop_wait_s=stop_wait)):
        return ordered
    return None


async def ask_reminder(app: App, target: Target) -> Target | None:
    """The reminder form, validated inline."""
    request = await app.push_screen_wait(ReminderForm(app.agent_names(), agent=target.agent, now=app.wall_clock()))
    return None if request is None else replace(target, agent=request.agent, payload=request)


async def ask_send(app: App, target: Target) -> Target | None:
    """The one-line input of ``s``."""
    text = await app.push_screen_wait(SendForm(target.agent))
    return None if text is None else replace(target, payload=text)


async def confirm_cancel_reminder(app: App, target: Target) -> Target | None:
    reminder, _ = reminder_to_cancel(app, target)
    if reminder is None:
        return None
    now = app.report.at if app.report is not None else app.wall_clock()()
    if await app.push_screen_wait(ConfirmCancelReminder(reminder, now=now)):
        return replace(target, agent=reminder.agent)
    return None


# --- runs (each returns what the app posts as ActionDone; errors are caught by the app) -------------


async def run_respawn(app: App, target: Target) -> ActionDone:
    app.notify(f"respawning {target.agent}…", title="respawn", timeout=3, markup=False)
    result = await app.supervisor.respawn(target.agent, force=target.force)
    return ActionDone("respawn", target.agent, result=result)


async def run_repoint(app: App, target: Target) -> ActionDone:
    app.notify(f"repointing {target.agent}…", title="repoint", timeout=3, markup=False)
    return ActionDone("repoint", target.agent, result=await app.supervisor.repoint(target.agent))


async def run_reap(app: App, target: Target) -> ActionDone:
    order = target.payload
    app.notify(f"reaping {order.label}…", title="reap", timeout=3, markup=False)
    return ActionDone("reap", order.label, reaps=tuple(await app.supervisor.reap(order.target)))


async def run_reap_now(app: App, target: Target) -> ActionDone:
    ordered = reap_order(app, target, now=True)
    if ordered is None:  # gone between the key and now
        why = reap_plan(app, target, now=True)[2] or "nothing to reap"
        return ActionDone("reap", target.agent or target.wrapper or "", error=why)
    return await run_reap(app, ordered)


async def run_schedule(app: App, target: Target) -> ActionDone:
    request = target.payload
    if remote_host(app, request.agent) is not None:  # SPEC §9: scheduled there, by its own queue
        result = await app.supervisor.remote.act("remind", request.agent, {
            "verb": request.verb, "text": request.text, "due_at": request.due_at,
            "respawn_if_down": request.respawn_if_down})
        return ActionDone("remind", request.agent, value=result)
    reminder = await app.supervisor.reminders.schedule(
        request.agent, request.verb, request.text, request.due_at,
        respawn_if_down=request.respawn_if_down, by="tui")
    return ActionDone("remind", request.agent, value=reminder)


async def run_send(app: App, target: Target) -> ActionDone:
    app.notify(f"typing into {target.agent}…", title="send", timeout=3, markup=False)
    return ActionDone("send", target.agent, value=await app.supervisor.send(target.agent, target.payload))


async def run_cancel_reminder(app: App, target: Target) -> ActionDone:
    reminder = app.reminders[target.reminder]
    cancelled = await app.supervisor.reminders.cancel(reminder.id, by="tui")
    return ActionDone("cancel reminder", reminder.agent, value=cancelled)


# --- results ----------------------------------------------------------------------------------------


def toast_result(app: App, done: ActionDone) -> None:
    """An ActionResult: verified, skipped, refused (by the action layer) or failed, with its summary."""
    result = done.result
    if result is None:
        return
    refused = result.evidence.get("refused") if isinstance(result.evidence, dict) else None
    outcome = "skipped" if result.skipped else "verified" if result.ok else "refused" if refused else "failed"
    severity = "error" if outcome == "failed" else "warning" if outcome == "refused" else "information"
    app.notify(result.summary, title=f"{done.action} {done.agent}: {outcome}", severity=severity, timeout=8,
               markup=False)


def toast_reaps(app: App, done: ActionDone) -> None:
    label, reaps = done.agent, done.reaps
    if not reaps:
        app.notify(f"{label}: nothing to reap (no zombie wrapper now)", title=f"reap {label}", markup=False)
        return
    gone = sum(1 for r in reaps if r.ok)
    outcome = "verified" if gone == len(reaps) else "skipped" if all(r.skipped for r in reaps) else "failed"
    app.notify("\n".join(r.summary for r in reaps), title=f"reap {label}: {outcome} ({gone}/{len(reaps)} gone)",
               severity="error" if outcome == "failed" else "information", timeout=8, markup=False)


def toast_send(app: App, done: ActionDone) -> None:
    """Verified (the agent showed the turn), not picked up (what it showed instead), or never typed (why)."""
    result = done.value
    outcome = "verified" if result.ok else "not typed" if result.attempts == 0 else "NOT picked up"
    app.notify(result.summary, title=f"send {done.agent}: {outcome}", severity="information" if result.ok else "error",
               timeout=10, markup=False)


def toast_scheduled(app: App, done: ActionDone) -> None:
    reminder = done.value
    if getattr(reminder, "host", None) is not None:  # a remote agent's: its host's answer
        app.notify(reminder.summary, title=f"remind {done.agent}: {'scheduled' if reminder.ok else 'failed'}",
                   severity="information" if reminder.ok else "error", markup=False)
        return
    app.notify(f"{reminder.id}: {reminder.verb} {reminder.agent} at {reminder.to_json()['due_at']}",
               title="reminder scheduled", markup=False)


def toast_cancelled(app: App, done: ActionDone) -> None:
    cancelled = done.value
    app.notify(f"{cancelled.id} ({cancelled.verb} {cancelled.agent}) is {cancelled.state}",
               title="reminder cancelled", markup=False)


# --- the table ----------------------------------------------------------------------------------------


def selected_agent(app: App) -> Target:
    return Target(agent=app.selected_agent)


def selected_reminder(app: App) -> Target:
    return Target(reminder=app.tab("reminders").selected_key)


def reminders_shown(app: App) -> bool:
    return app.tab_shown("reminders")


def tab_action(tab: type[TabView]) -> Action:
    return Action(
        tab.binding_id(), tab.KEY, tab.LABEL, f"Show the {tab.LABEL} tab",
        run=lambda app, _target: app.action_show_tab(tab.pane_id()),
        binding_action=f"show_tab('{tab.pane_id()}')", group=TAB_KEYS,
        palette=(PaletteEntry(f"Show {tab.LABEL.lower()}", f"The {tab.LABEL} tab ({tab.KEY})", over="app"),))


# Binding order is footer order: on an 80-column footer the keys the SPEC lists come first.
ACTION_LIST: tuple[Action, ...] = (
    Action("respawn", "R", "Respawn",
           "Respawn the selected agent through the verified spawn path (asks first)",
           mutating=True, explained=True, why_not=need_agent, confirm=confirm_respawn, run=run_respawn,
           palette=(PaletteEntry("Respawn {name}", "Confirm, then respawn through the verified spawn path"),)),
    Action("repoint", "p", "Repoint",
           "Point the selected agent's routing record at its disk session (asks first)",
           mutating=True, explained=True, why_not=repoint_blocker, confirm=confirm_repoint, run=run_repoint,
           palette=(PaletteEntry("Repoint {name}", "Show record and disk side by side, then point the routing "
                                 "record at the disk session"),)),
    Action("reap", "k", "Reap",
           "Reap the selected wrapper (Zombies tab) or the selected agent's zombie wrappers (asks first)",
           mutating=True, explained=True, group=REAP_KEYS, select=lambda app: Target(),
           why_not=lambda app, t: reap_plan(app, t)[2], confirm=confirm_reap, run=run_reap, result=toast_reaps,
           palette=(PaletteEntry("Reap {name}", "Confirm, then reap this agent's zombie wrappers"),
                    PaletteEntry("Reap {name}", "Confirm, then reap wrapper pid {pid} ({state})", over="wrapper"))),
    Action("reap_now", "ctrl+k", "Reap now", "Reap zombie wrappers without asking",
           mutating=True, explained=True, group=REAP_KEYS, select=lambda app: Target(),
           why_not=lambda app, t: reap_plan(app, t, now=True)[2], run=run_reap_now, result=toast_reaps),
    Action("attach", "enter", "Attach", "Attach to the selected agent's pane (detach to come back)",
           explained=True, why_not=attach_blocker, run=lambda app, t: app.run_attach(t.agent),
           palette=(PaletteEntry("Attach to {name}", "Suspend the cockpit and attach to the agent's pane"),)),
    Action("add_reminder", "n", "New reminder", "Reminders tab: schedule a wake or notice for an agent",
           mutating=True, explained=True, footer=reminders_shown,
           why_not=lambda app, t: None if app.agent_names() else "no agents configured",
           confirm=ask_reminder, run=run_schedule, result=toast_scheduled,
           palette=(PaletteEntry("Remind {name}", "Schedule a wake or notice reminder for this agent"),)),
    Action("cancel_reminder", "x", "Cancel reminder", "Reminders tab: cancel the selected reminder (asks first)",
           mutating=True, explained=True, footer=reminders_shown, select=selected_reminder,
           why_not=lambda app, t: reminder_to_cancel(app, t)[1], confirm=confirm_cancel_reminder,
           run=run_cancel_reminder, result=toast_cancelled,
           palette=(PaletteEntry("Cancel reminder {id}", "{verb} {agent}: {text}", over="reminder"),)),
    # priority: run as the key arrives, so the letters typed right after it reach the filter even when
    # the app lags (a plain binding runs only once the key has bubbled up from the focused table)
    Action("filter", "slash", "Filter", "Narrow the agents by name, kind, state or finding",
           run=lambda app, _t: app.action_filter(), priority=True,
           palette=(PaletteEntry("Filter agents", "Narrow the agents table (/)", over="app"),)),
    # a filter applied with enter leaves the keys in the table: escape there clears it too (without a
    # filter the key is inert here and stays the focused widget's or the dialog's)
    Action("clear_filter", "escape", "Clear filter", "Show every agent again",
           run=lambda app, _t: app.clear_filter(), footer=lambda app: app.filtered),
    *(tab_action(tab) for tab in TABS),
    Action("help", "question_mark", "Help", "Every key, as currently bound", run=lambda app, _t: app.action_help(),
           palette=(PaletteEntry("Keys", "Every key as currently bound (?)", over="app"),)),
    Action("quit", "q", "Quit", "Stop the supervisor and leave", run=lambda app, _t: app.action_quit(),
           binding_action="quit"),
    Action("palette", "ctrl+p", "Palette", "Every action for every agent, by name",
           run=lambda app, _t: app.action_command_palette(), binding_action="command_palette", priority=True),
    Action("describe", "d", "Detail",
           "Everything about the selected agent, each finding with its evidence (a fold's turns, a failed "
           "spawn's screen), its CLI, reminders and sub-agents",
           explained=True, why_not=need_agent, run=lambda app, t: app.open_detail(t.agent),
           palette=(PaletteEntry("Detail of {name}", "Every finding of this agent with its evidence, its CLI, "
                                 "reminders and sub-agents (d)"),)),
    Action("conversation", "c", "Conversation",
           "The selected agent's conversation, live: prompts, replies, one line per tool call",
           explained=True, why_not=local_only("its conversation"), run=lambda app, t: app.open_conversation(t.agent),
           palette=(PaletteEntry("Conversation of {name}", "The last turns of its transcript, live (c)"),)),
    Action("send", "s", "Send",
           "Type a line into the selected agent, verified like a wake (the toast says if it took it)",
           mutating=True, explained=True, why_not=send_blocker, confirm=ask_send, run=run_send, result=toast_send,
           palette=(PaletteEntry("Send to {name}", "Type a line into the agent, verified like a wake (s)"),)),
    Action("demo_block", "b", "Block loop",
           "Demo only: stall the event loop 600 ms on purpose; the Blocks tab shows the trace",
           exists=lambda app: bool(app.settings.demo), run=lambda app, _t: app.action_demo_block(),
           palette=(PaletteEntry("Block the event loop (demo)", "Stall the loop 600 ms on purpose; see the Blocks "
                                 "tab", over="app"),)),
    # palette only
    Action("select", None, "Select", "Move the agents table to this agent",
           run=lambda app, t: app.select_agent(t.agent),
           palette=(PaletteEntry("Select {name}", "Move the agents table to this agent and preview its pane"),)),
    Action("doctor", None, "Doctor", "Check a candidate CLI for the agent",
           why_not=local_only("its CLI"), run=lambda app, t: app.open_doctor(t.agent),
           palette=(PaletteEntry("Doctor: check a candidate CLI for {name}",
                                 "Boot a candidate of this agent's CLI in a throwaway pane, judge it, promote after "
                                 "a pass"),)),
)
ACTIONS: dict[str, Action] = {action.id: action for action in ACTION_LIST}
OVERS = ("agent", "reminder", "wrapper", "app")


def bindings() -> list[Binding]:
    """The app's key bindings, in footer order."""
    return [action.binding() for action in ACTION_LIST if action.key is not None]


def palette_items(app: App, over: str) -> Iterable[tuple[dict[str, Any], Target]]:
    """The items one palette entry is repeated over, each with its fields and its target."""
    if over == "agent":
        for name in app.agent_names():
            yield {"name": name}, Target(agent=name)
    elif over == "reminder":
        for reminder in app.reminders.values():
            if not reminder.done:
                yield ({"id": reminder.id, "verb": reminder.verb, "agent": reminder.agent,
                        "text": reminder.text[:60]}, Target(reminder=reminder.id))
    elif over == "wrapper":
        for view in app.wrappers.values():
            if view.alive:
                yield {"name": view.name, "pid": view.pid, "state": view.state}, Target(wrapper=view.id)
    else:
        yield {}, Target()

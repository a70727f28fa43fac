"""The tabs of the lower pane, one module each (columns, cells, detail, table, and how a report shows).

``TABS`` is their order (SPEC §4): the app composes them, binds ``1``–``5``, lists them in the palette
and the help, and hands each report to every one of them. To add a tab, write its module (see
``base.TabView``) and list its class here.
"""

from cockpit.tui.tabs.base import TabView
from cockpit.tui.tabs.blocks import BlocksTab
from cockpit.tui.tabs.journal import JournalTab
from cockpit.tui.tabs.reminders import RemindersTab
from cockpit.tui.tabs.sessions import SessionsTab
from cockpit.tui.tabs.zombies import ZombiesTab

TABS: tuple[type[TabView], ...] = (SessionsTab, BlocksTab, ZombiesTab, RemindersTab, JournalTab)

__all__ = ["TABS", "TabView", "BlocksTab", "JournalTab", "RemindersTab", "SessionsTab", "ZombiesTab"]

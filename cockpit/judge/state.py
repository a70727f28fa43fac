"""SPEC §6: a state file the cockpit could not write (a full disk, a read-only mount) is a finding.

Pure: the failed writes come in as data (path -> when, the one line), the findings go out.
"""

from __future__ import annotations

from collections.abc import Mapping

from cockpit.findings import Finding, Severity

__all__ = ["MIN_FREE_BYTES", "state_findings"]

MIN_FREE_BYTES = 64 << 10  # less than this free in the state dir: the next rows may not fit


def state_findings(failures: Mapping[str, tuple[float, str]], *, state_dir: str | None = None,
                   free: int | None = None, min_free: int = 0) -> list[Finding]:
    """One critical ``state_unwritable`` per state file whose last write failed (cleared by the next success),
    and one for the state dir when its disk has less than ``min_free`` bytes left (before a write fails)."""
    found = []
    if free is not None and state_dir is not None and free < min_free and not failures:
        found.append(Finding(kind="state_unwritable", severity=Severity.CRITICAL, agent=None, action="none",
                             subject=state_dir, summary=f"the state dir {state_dir} has {free} bytes free; "
                             "the next registry and journal rows may not be written",
                             evidence={"path": state_dir, "free_bytes": free}))
    return found + [Finding(kind="state_unwritable", severity=Severity.CRITICAL, agent=None, action="none", subject=path,
                    summary=f"{why}; the cockpit's rows are not recorded there until it can write again",
                    evidence={"path": path, "error": why, "since": at})
            for path, (at, why) in sorted(failures.items())]

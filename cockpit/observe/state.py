"""SPEC §6: the state dir as a tick finds it: the state files whose last write failed, the bytes left."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.fsutil import free_bytes, write_failures


@dataclass(frozen=True)
class StateDisk:
    dir: str
    failures: Mapping[str, tuple[float, str]] = field(default_factory=dict)  # path -> (when, the one line)
    free: int | None = None                                                # None: cannot tell

    @classmethod
    def read(cls, directory: Path) -> StateDisk:
        """(blocking: one statvfs) What the writers remembered of the dir, and its filesystem's free bytes."""
        return cls(str(directory), write_failures(directory), free_bytes(directory))

"""What ``import-dvc`` did with each DVC file, remote and stage, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ImportItem", "ImportReport"]

STATUSES = ("converted", "unchanged", "skipped")


@dataclass(frozen=True)
class ImportItem:
    kind: str  # "data", "stage", "remote", "file"
    name: str
    status: str  # one of STATUSES
    detail: str = ""


@dataclass
class ImportReport:
    root: str
    items: list[ImportItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, name: str, status: str, detail: str = "") -> None:
        self.items.append(ImportItem(kind, name, status, detail))

    def by_status(self, status: str) -> list[ImportItem]:
        return [i for i in self.items if i.status == status]

    def as_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            **{
                status: [
                    {"kind": i.kind, "name": i.name, "detail": i.detail}
                    for i in self.by_status(status)
                ]
                for status in STATUSES
            },
            "notes": self.notes,
        }

"""What provisioning did, or in a dry run would do, to one node."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    node: str
    action: str  # created | updated | unchanged | observed | would_create | would_update | missing
    changes: list[str] = field(default_factory=list)  # one line per write, no secret values
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return len(self.changes) if self.action in ("created", "updated") else 0


def would(action: str) -> str:
    """The dry-run name of an action: plan reports what provisioning would do."""
    return {"created": "would_create", "updated": "would_update", "repaired": "would_repair"}.get(action, action)


class ProvisionFailure(RuntimeError):
    """Provisioning reached the system but the object is not right (a connector that never runs,
    a topic its query never created); the asset fails with this message and metadata."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None):
        super().__init__(message)
        self.metadata = metadata or {}

"""Service-level objectives as configured: delays in business time per criticality.

The evaluation against a ticket's history is in maildesk/desk/sla.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Objective:
    """Delays in business time for one criticality level."""

    first_response: timedelta
    resolution: timedelta

    def __post_init__(self) -> None:
        if self.first_response <= timedelta(0) or self.resolution <= timedelta(0):
            raise ValueError("objective delays must be positive")
        if self.first_response > self.resolution:
            raise ValueError("the first response cannot be due after the resolution")


DEFAULT_OBJECTIVES: dict[str, Objective] = {
    "critical": Objective(timedelta(hours=1), timedelta(hours=8)),
    "high": Objective(timedelta(hours=4), timedelta(hours=16)),
    "medium": Objective(timedelta(hours=8), timedelta(hours=40)),
    "low": Objective(timedelta(hours=16), timedelta(hours=80)),
}

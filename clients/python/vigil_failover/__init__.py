"""Per-call model failover and background telemetry for avatars watched by Vigil."""

from vigil_failover.client import (
    AllTiersFailed,
    Answer,
    Degraded,
    FailoverClient,
    NoRoute,
)
from vigil_failover.telemetry import TelemetryReporter

__all__ = [
    "AllTiersFailed",
    "Answer",
    "Degraded",
    "FailoverClient",
    "NoRoute",
    "TelemetryReporter",
]

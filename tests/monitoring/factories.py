"""Re-exports: the factories live in tests/factories.py (one per concept)."""

from tests.factories import HeartbeatFactory, ProbeFactory

__all__ = ["HeartbeatFactory", "ProbeFactory"]

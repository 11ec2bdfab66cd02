"""Re-exports: the factories live in tests/factories.py (one per concept)."""

from tests.factories import make_runbook, step

__all__ = ["make_runbook", "step"]

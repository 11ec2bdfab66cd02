"""Re-exports: the factories live in tests/factories.py (one per concept)."""

from tests.factories import T0, draft_for, resolved_incident

__all__ = ["T0", "draft_for", "resolved_incident"]

"""Helpers of the API tests; the shared ones live in tests/factories.py."""

from tests.factories import open_incident

__all__ = ["open_incident"]

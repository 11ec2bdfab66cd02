"""Refusals of the status-page services, in the one DomainError family."""

from config.errors import Conflict, InvalidInput, NotFound


class StatusPageError(Conflict):
    """A state change that the current state does not allow (409)."""


class InvalidStatusInput(InvalidInput):
    """Input that cannot be stored or used, named precisely (400)."""


class UnknownStatusObject(NotFound):
    """An unknown page, component or link (404)."""

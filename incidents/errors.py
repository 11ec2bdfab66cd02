from config.errors import Conflict


class IncidentError(Conflict):
    """A domain rule refused the request; the message says what was tried and why not."""


class InvalidIncidentInput(IncidentError):
    """The request itself is wrong (no title, severity out of range, empty note): 400."""

    status, code = 400, "invalid"


class InvalidTransition(IncidentError):
    code = "invalid_transition"


class DedupConflict(IncidentError):
    code = "dedup_conflict"

from config.errors import Conflict


class IncidentError(Conflict):
    """A domain rule refused the request; the message says what was tried and why not."""


class InvalidTransition(IncidentError):
    code = "invalid_transition"


class DedupConflict(IncidentError):
    code = "dedup_conflict"

class IncidentError(Exception):
    """A domain rule refused the request; the message says what was tried and why not."""


class InvalidTransition(IncidentError):
    pass


class DedupConflict(IncidentError):
    pass

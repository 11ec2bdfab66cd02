class PostmortemError(ValueError):
    """A post-mortem request that cannot be carried out; the message says why."""

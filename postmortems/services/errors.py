from config.errors import Conflict


class PostmortemError(Conflict):
    """A post-mortem request that the post-mortem's state refuses; the message says why (409)."""

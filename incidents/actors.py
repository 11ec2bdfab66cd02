"""Who did something. Defined in ``accounts.actors`` (accounts' services take it too)."""

from accounts.actors import Actor, ActorKind

__all__ = ["Actor", "ActorKind"]

"""Who did something: a person, an integration, a probe or Vigil itself."""

from __future__ import annotations

from dataclasses import dataclass

from incidents.models import ActorKind


@dataclass(frozen=True)
class Actor:
    kind: str
    user: object | None = None
    label: str = ""

    @classmethod
    def of_user(cls, user) -> Actor:
        return cls(kind=ActorKind.USER, user=user, label=user.get_username())

    @classmethod
    def integration(cls, name: str) -> Actor:
        return cls(kind=ActorKind.INTEGRATION, label=name)

    @classmethod
    def probe(cls, name: str) -> Actor:
        return cls(kind=ActorKind.PROBE, label=name)

    @classmethod
    def system(cls, label: str = "vigil") -> Actor:
        return cls(kind=ActorKind.SYSTEM, label=label)

    @property
    def user_or_none(self):
        return self.user if self.kind == ActorKind.USER else None

    def __str__(self) -> str:
        return self.label or self.kind

"""Who did something: a person, an integration, a probe or Vigil itself."""

from __future__ import annotations

from dataclasses import dataclass

from incidents.models import ActorKind


@dataclass(frozen=True)
class Actor:
    kind: str
    user: object | None = None
    label: str = ""
    # The client's address when the act came through a request: services write it into the
    # audit row, so views never write audit rows themselves.
    ip: str | None = None

    @classmethod
    def of_user(cls, user) -> Actor:
        return cls(kind=ActorKind.USER, user=user, label=user.get_username())

    @classmethod
    def of_request(cls, request) -> Actor:
        """The signed-in user behind a page or API request, with the client's address."""
        from accounts.audit import client_ip

        user = request.user
        return cls(kind=ActorKind.USER, user=user, label=user.get_username(), ip=client_ip(request))

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

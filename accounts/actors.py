"""Who did something: a person, an integration, a probe or Vigil itself.

Every service takes ``actor: Actor``. It lives in accounts (the bottom of the dependency arrows)
so that accounts' own services take it too; ``incidents.actors`` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class ActorKind(models.TextChoices):
    USER = "user", "user"
    INTEGRATION = "integration", "integration"
    PROBE = "probe", "probe"
    SYSTEM = "system", "system"


@dataclass(frozen=True)
class Actor:
    kind: str
    user: object | None = None
    label: str = ""
    # The client's address when the act came through a request: services write it into the
    # audit row, so views never write audit rows themselves.
    ip: str | None = None
    # The public prefix of the API token the act came through, for the audit row ("" if none).
    token: str = ""

    @classmethod
    def of_user(cls, user, *, ip: str | None = None) -> Actor:
        return cls(kind=ActorKind.USER, user=user, label=user.get_username(), ip=ip)

    @classmethod
    def of_request(cls, request) -> Actor:
        """The signed-in user behind a page or API request, with the client's address (and
        the API token's prefix when a token authenticated it)."""
        from accounts.audit import client_ip

        user = request.user
        token = getattr(getattr(request, "auth", None), "prefix", "")
        return cls(
            kind=ActorKind.USER,
            user=user,
            label=user.get_username(),
            ip=client_ip(request),
            token=token if isinstance(token, str) else "",
        )

    @classmethod
    def integration(cls, name: str, *, ip: str | None = None) -> Actor:
        return cls(kind=ActorKind.INTEGRATION, label=name, ip=ip)

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

"""API tokens: create, revoke, and look up the token a request presents.

A token reads ``vgl_<key id>_<secret>``: the key id (48 random bits, hex) finds the row in one
indexed lookup; the secret carries 256 random bits. The database keeps only the public prefix
``vgl_<key id>`` and an HMAC-SHA256 of the whole token keyed from SECRET_KEY, so a stolen
database alone does not yield usable tokens, and the comparison is constant-time. Rotating
SECRET_KEY invalidates tokens unless the old key stays in SECRET_KEY_FALLBACKS.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import audit
from accounts.actors import Actor
from accounts.models import ApiToken
from config.errors import InvalidInput

TOKEN_TYPE = "vgl_"
_KEY_ID_BYTES = 6  # 12 hex characters
_SECRET_BYTES = 32  # 256 bits
_DIGEST_SALT = "vigil.accounts.api-token"
# last_used_at is written at most this often per token, so busy scripts do not write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(InvalidInput):
    """A token cannot be created as asked; the message says why (400)."""


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # shown to the user once, never stored


def _digest(plaintext: str, secret: str) -> str:
    return salted_hmac(_DIGEST_SALT, plaintext, secret=secret, algorithm="sha256").hexdigest()


def _split(plaintext: str) -> str | None:
    """The public prefix of a well-formed token, else None."""
    if not plaintext.startswith(TOKEN_TYPE):
        return None
    key_id, sep, secret = plaintext[len(TOKEN_TYPE) :].partition("_")
    if not sep or len(key_id) != _KEY_ID_BYTES * 2 or not secret or len(secret) > 128:
        return None
    if any(c not in "0123456789abcdef" for c in key_id):
        return None
    return TOKEN_TYPE + key_id


def create_token(
    *,
    user,
    name: str,
    read_only: bool = False,
    expires_in_days: int | None = None,
    actor: Actor,
) -> IssuedToken:
    """Issue a token for ``user`` and write the audit row. The plaintext is returned only here.

    ``actor`` is who issues it: usually the user themself, or the command line."""
    name = (name or "").strip()[:100]
    if not name:
        raise TokenError("a token needs a name, e.g. the script or tool that will use it")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise TokenError("expiry must be between 1 and 3650 days, or none")
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    plaintext = f"{TOKEN_TYPE}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=TOKEN_TYPE + key_id,
            digest=_digest(plaintext, settings.SECRET_KEY),
            read_only=read_only,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        audit.record(
            action="api_token.created",
            actor=actor,
            target=f"{token.prefix} of {user.get_username()}",
            data={
                "token_id": token.pk,
                "user_id": user.pk,
                "name": name,
                "read_only": read_only,
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            },
        )
    return IssuedToken(token=token, plaintext=plaintext)


def revoke_token(*, token: ApiToken, actor: Actor) -> ApiToken:
    """Revoke the token; it fails from the next request on. Revoking twice changes nothing."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            action="api_token.revoked",
            actor=actor,
            target=f"{token.prefix} of {token.user.get_username()}",
            data={"token_id": token.pk, "user_id": token.user_id, "name": token.name},
        )
    return token


def find_active_token(plaintext: str, *, now: datetime | None = None) -> ApiToken | None:
    """The active token matching ``plaintext`` (with its user loaded), or None.

    One query. Expired, revoked and malformed tokens, and tokens of inactive users, are None.
    """
    prefix = _split(plaintext)
    if prefix is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None:
        return None
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(constant_time_compare(_digest(plaintext, key), token.digest) for key in keys):
        return None
    if not token.is_active(now) or not token.user.is_active:
        return None
    return token


def note_use(token: ApiToken, *, now: datetime | None = None) -> None:
    """Record that the token was used, at most once per LAST_USED_RESOLUTION.

    A conditional UPDATE, so concurrent requests write at most once between them.
    """
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    from django.db.models import Q

    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    token.last_used_at = now

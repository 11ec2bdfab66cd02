"""Model-provider credentials at rest: Fernet keyed from SECRET_KEY, never shown again.

The key is derived (HMAC-SHA256 with a purpose string) from SECRET_KEY, so it is not the signing
key itself; keys derived from SECRET_KEY_FALLBACKS still decrypt, so rotating SECRET_KEY keeps
stored credentials readable while the old key is listed there. ``Credential`` hides its value
from repr() and str(), so it never lands in a log line or a traceback by accident.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

_PURPOSE = b"vigil.llm.credential.v1"


def _fernet_for(secret: str) -> Fernet:
    digest = hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _fernet() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet_for(k) for k in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext, or "" when the token was made with a key Vigil no longer has."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return ""


class Credential(str):
    """A secret string whose repr never shows it (logs, tracebacks, debug pages)."""

    def __repr__(self) -> str:
        return "Credential('***')" if self else "Credential('')"

    __str__ = str.__str__  # the value itself, for the request header only

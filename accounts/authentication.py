"""DRF authentication by personal API token: ``Authorization: Bearer vgl_...``."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS

from accounts import tokens

READ_ONLY_TOKEN_MESSAGE = "This API token is read-only."


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates ``Authorization: Bearer <token>``; ``request.auth`` is the ApiToken.

    A request without a Bearer header is left to the next class (the browser's session). A
    Bearer header with a wrong, expired or revoked token is refused outright with 401, so a
    script never silently falls back to something else.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Bearer <token>'."
            )
        try:
            plaintext = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = tokens.find_active_token(plaintext)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        tokens.note_use(token)
        if token.read_only and request.method not in SAFE_METHODS:
            # Refused here, before any viewset's own permission classes, so no endpoint of any
            # app can forget it. Every write answers 403 whether its object exists or not, so
            # this reveals nothing about other teams' objects.
            raise exceptions.PermissionDenied(READ_ONLY_TOKEN_MESSAGE)
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to unauthenticated requests.
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "vgl_<key id>_<secret>",
            "description": "A personal API token from /account/tokens/ or "
            "`manage.py create_api_token`.",
        }

"""Team invites: a single-use link that expires, made by a team admin, accepted by a signed-in
person or by a new person registering a local account through it.

The link carries 256 random bits. The database keeps only an HMAC-SHA256 of them keyed from
SECRET_KEY (as API tokens, accounts.tokens), so a stolen database yields no usable link; the
link is shown once, to the admin who made it. Accepting claims the invite with one conditional
UPDATE (unused, unrevoked, unexpired), so two people opening one link cannot both join.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from accounts import audit
from accounts.actors import Actor
from accounts.models import Membership, Role, Team, TeamInvite, User
from config.errors import Conflict, Forbidden, InvalidInput, NotFound

log = logging.getLogger(__name__)

_SALT = "vigil.accounts.team-invite"
_TOKEN_BYTES = 32
MAX_INVITE_DAYS = 90


@dataclass(frozen=True)
class IssuedInvite:
    invite: TeamInvite
    token: str  # shown once, never stored


def _digest(token: str, key: str) -> str:
    return salted_hmac(_SALT, token, secret=key, algorithm="sha256").hexdigest()


def invite_path(token: str) -> str:
    from django.urls import reverse

    return reverse("accept-invite", args=[token])


def create_invite(
    *,
    team: Team,
    role: Role,
    actor: Actor,
    email: str = "",
    days: int | None = None,
    base_url: str | None = None,
) -> IssuedInvite:
    """Make an invite and write the audit row; mail the link to ``email`` after commit when
    one is given. The token is returned only here."""
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(f"email: {email!r} is not an e-mail address") from None
    if role not in Role.values:
        raise InvalidInput("role: viewer, responder, manager or admin")
    days = settings.TEAM_INVITE_DAYS if days is None else days
    if not 1 <= days <= MAX_INVITE_DAYS:
        raise InvalidInput(f"days: 1 to {MAX_INVITE_DAYS}")
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    with transaction.atomic():
        invite = TeamInvite.objects.create(
            team=team,
            role=role,
            email=email,
            digest=_digest(token, settings.SECRET_KEY),
            created_by=actor.user_or_none,
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit.record(
            action="team.invite_created",
            actor=actor,
            team=team,
            target=f"invite:{invite.pk}",
            data={
                "role": Role(role).label,
                "email": email,
                "expires_at": invite.expires_at.isoformat(),
            },
        )
        if email:
            link = (base_url or settings.BASE_URL).rstrip("/") + invite_path(token)
            transaction.on_commit(lambda: _mail_invite(invite, link, actor), robust=True)
    return IssuedInvite(invite=invite, token=token)


def _mail_invite(invite: TeamInvite, link: str, actor: Actor) -> None:
    role = Role(invite.role).label
    send_mail(
        subject=_("You are invited to %(team)s on Vigil") % {"team": invite.team.name},
        message=_(
            "%(who)s invites you to join %(team)s on Vigil as %(role)s.\n\n"
            "Open this link to accept (it works once, until %(until)s UTC):\n%(link)s\n"
        )
        % {
            "who": actor.label or "Someone",
            "team": invite.team.name,
            "role": role,
            "until": invite.expires_at.strftime("%Y-%m-%d %H:%M"),
            "link": link,
        },
        from_email=None,
        recipient_list=[invite.email],
        fail_silently=False,
    )


def find_invite(token: str) -> TeamInvite | None:
    """The invite behind a link's token (whatever its state), or None."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    digests = [_digest(token, key) for key in keys]
    return TeamInvite.objects.select_related("team").filter(digest__in=digests).first()


def revoke_invite(*, invite: TeamInvite, actor: Actor) -> TeamInvite:
    with transaction.atomic():
        invite = TeamInvite.objects.select_for_update().select_related("team").get(pk=invite.pk)
        state = invite.state()
        if state != "pending":
            raise Conflict(f"cannot revoke the invite: it is already {state}")
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        audit.record(
            action="team.invite_revoked",
            actor=actor,
            team=invite.team,
            target=f"invite:{invite.pk}",
            data={"role": Role(invite.role).label, "email": invite.email},
        )
    return invite


def _refusal(invite: TeamInvite | None) -> str:
    if invite is None:
        return _("This invite link is not valid. Ask a team admin for a new one.")
    state = invite.state()
    if state == "used":
        return _("This invite link was already used. Ask a team admin for a new one.")
    if state == "revoked":
        return _("This invite was revoked. Ask a team admin for a new one.")
    return _("This invite link has expired. Ask a team admin for a new one.")


def check_invite(token: str) -> TeamInvite:
    """The pending invite behind ``token``, else NotFound with a message saying why."""
    invite = find_invite(token)
    if invite is None or invite.state() != "pending":
        raise NotFound(_refusal(invite))
    return invite


def _claim(invite: TeamInvite, user: User, now) -> None:
    claimed = TeamInvite.objects.pending(now).filter(pk=invite.pk).update(used_at=now, used_by=user)
    if not claimed:
        raise NotFound(_refusal(TeamInvite.objects.filter(pk=invite.pk).first()))


def accept_invite(*, token: str, user: User, actor: Actor) -> Membership:
    """Make ``user`` a member of the invite's team with its role; the link is spent."""
    invite = check_invite(token)
    now = timezone.now()
    with transaction.atomic():
        if Membership.objects.filter(user=user, team=invite.team).exists():
            raise Conflict(
                _("You are already a member of %(team)s; the invite is left for someone else.")
                % {"team": invite.team.name}
            )
        _claim(invite, user, now)
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    user=user, team=invite.team, role=invite.role
                )
        except IntegrityError:
            raise Conflict(
                _("You joined %(team)s a moment ago.") % {"team": invite.team.name}
            ) from None
        audit.record(
            action="team.invite_accepted",
            actor=actor,
            team=invite.team,
            target=user.get_username(),
            data={"invite_id": invite.pk, "user_id": user.pk, "role": Role(invite.role).label},
        )
    return membership


def register_through_invite(
    *, token: str, username: str, password: str, email: str, display_name: str, ip: str | None
) -> User:
    """Create a local account and its membership from an invite, in one transaction."""
    if not settings.LOCAL_ACCOUNTS_ENABLED:
        raise Forbidden(_("Local accounts are turned off here: sign in with single sign-on."))
    invite = check_invite(token)
    username = User.normalize_username((username or "").strip())
    if not username or len(username) > 150 or "\x00" in username:
        raise InvalidInput("username: 1 to 150 characters")
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise InvalidInput("username: " + " ".join(exc.messages)) from None
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(f"email: {email!r} is not an e-mail address") from None
    display_name = (display_name or "").strip()
    if len(display_name) > 150 or "\x00" in display_name:
        raise InvalidInput("display_name: at most 150 characters")
    candidate = User(username=username, email=email, display_name=display_name)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as exc:
        raise InvalidInput("password1: " + " ".join(exc.messages)) from None
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"username: {username!r} is taken; choose another or log in")
    with transaction.atomic():
        try:
            with transaction.atomic():
                candidate.set_password(password)
                candidate.save()
        except IntegrityError:
            raise Conflict(f"username: {username!r} was taken a moment ago") from None
        actor = Actor.of_user(candidate, ip=ip)
        audit.record(
            action="account.registered",
            actor=actor,
            team=invite.team,
            target=username,
            data={"invite_id": invite.pk},
        )
        accept_invite(token=token, user=candidate, actor=actor)
    return candidate

from django.core.management.base import BaseCommand, CommandError

from accounts.actors import Actor
from accounts.models import User
from accounts.tokens import TokenError, create_token


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--read-only", action="store_true", help="GET requests only.")
        parser.add_argument("--expires", type=int, metavar="DAYS", help="Expire after DAYS days.")
        parser.add_argument("--name", default="created by manage.py", help="What uses the token.")

    def handle(self, *args, username, read_only, expires, name, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None
        if not user.is_active:
            raise CommandError(f"user {username!r} is inactive")
        try:
            issued = create_token(
                user=user,
                name=name,
                read_only=read_only,
                expires_in_days=expires,
                actor=Actor.system("manage.py create_api_token"),
            )
        except TokenError as exc:
            raise CommandError(str(exc)) from None
        # The plaintext alone on stdout, so scripts can capture it; details on stderr.
        self.stdout.write(issued.plaintext)
        details = "read-only" if read_only else "read-write"
        if issued.token.expires_at:
            details += f", expires {issued.token.expires_at:%Y-%m-%d %H:%M %Z}"
        self.stderr.write(
            f"Token {issued.token.prefix}… for {username} ({details}). "
            "Store it now: it cannot be shown again."
        )

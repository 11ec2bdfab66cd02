"""manage.py create_integration <service-slug> <kind> [--name ...]: prints the token and URL once."""

from django.core.management.base import BaseCommand, CommandError

from incidents.actors import Actor
from incidents.ingest.services import create_integration, hook_url
from incidents.models import IntegrationKind, Service


class Command(BaseCommand):
    help = "Create an alert integration for a service and print its secret token and URL once."

    def add_arguments(self, parser):
        parser.add_argument("service", help="slug of the service")
        parser.add_argument("kind", choices=IntegrationKind.values)
        parser.add_argument("--name", default="", help="defaults to '<kind>'")
        parser.add_argument("--no-auto-resolve", action="store_true")
        parser.add_argument("--hmac-secret", default="", help="Grafana signature secret")
        parser.add_argument("--rate-limit", type=int, default=None, help="deliveries per minute")

    def handle(self, *args, **options):
        try:
            service = Service.objects.get(slug=options["service"])
        except Service.DoesNotExist:
            raise CommandError(f"no service with slug {options['service']!r}") from None
        integration, token = create_integration(
            service=service,
            kind=options["kind"],
            name=options["name"] or options["kind"],
            actor=Actor.system("manage.py create_integration"),
            auto_resolve=not options["no_auto_resolve"],
            hmac_secret=options["hmac_secret"],
            rate_limit_per_minute=options["rate_limit"],
        )
        self.stdout.write(f"integration {integration.pk}: {integration}")
        self.stdout.write(f"token (shown only now): {token}")
        self.stdout.write(f"url: {hook_url(integration, token)}")
        if integration.kind == IntegrationKind.PAGERDUTY:
            self.stdout.write("send it as routing_key in the event body")

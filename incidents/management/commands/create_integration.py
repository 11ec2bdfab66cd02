"""manage.py create_integration <service-slug> <kind> [--name ...]: prints the token and URL once."""

from django.conf import settings
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
        parser.add_argument(
            "--base-url",
            default="",
            help="public URL of this Vigil, e.g. http://vigil.example.com:8080 "
            "(default: VIGIL_BASE_URL)",
        )

    def handle(self, *args, **options):
        try:
            service = Service.objects.get(slug=options["service"])
        except Service.DoesNotExist:
            slugs = list(
                Service.objects.active().order_by("slug").values_list("slug", flat=True)[:50]
            )
            known = ", ".join(slugs) if slugs else "none yet: create a service first (/services/)"
            raise CommandError(
                f"no service with slug {options['service']!r}; valid slugs: {known}"
            ) from None
        if service.archived_at is not None:
            raise CommandError(f"service {service.slug!r} is archived: restore it first")
        integration, token = create_integration(
            service=service,
            kind=options["kind"],
            name=options["name"] or options["kind"],
            actor=Actor.system("manage.py create_integration"),
            auto_resolve=not options["no_auto_resolve"],
            hmac_secret=options["hmac_secret"],
            rate_limit_per_minute=options["rate_limit"],
        )
        base_url = options["base_url"] or settings.BASE_URL
        self.stdout.write(f"integration {integration.pk}: {integration}")
        self.stdout.write(f"token (shown only now): {token}")
        self.stdout.write(f"url: {hook_url(integration, token, base_url=base_url)}")
        if not options["base_url"] and not settings.BASE_URL_CONFIGURED:
            self.stdout.write(
                f"note: VIGIL_BASE_URL is not set, so the URL assumes {settings.BASE_URL}; "
                "pass --base-url with the address senders reach this server at"
            )
        if integration.kind == IntegrationKind.PAGERDUTY:
            self.stdout.write("send it as routing_key in the event body")

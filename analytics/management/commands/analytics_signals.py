"""Store the first signal of every resolved incident that lacks an up-to-date row.

The incident events keep these rows as incidents resolve; run this after importing incidents
by other means (a restore, a bulk load). Safe to repeat: it only writes what is missing.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from analytics.signals import remember


class Command(BaseCommand):
    help = "Store the first failing signal of resolved incidents (speeds up the MTTD report)."

    def handle(self, *args, **options) -> None:
        written = remember()
        self.stdout.write(f"stored the first signal of {written} resolved incidents")

"""manage.py verify-backup [FILE]: restore into a scratch database and compare."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.backup import BackupError, backups_in, verify_backup


class Command(BaseCommand):
    help = "Prove a backup restores: scratch restore, row counts and record samples compared."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="backup file (default: newest in BACKUP_DIR)")

    def handle(self, *args, **options):
        path = options.get("file")
        if not path:
            found = backups_in(Path(settings.BACKUP_DIR))
            if not found:
                raise CommandError(f"no backups in {settings.BACKUP_DIR}")
            path = found[-1]
        try:
            report = verify_backup(Path(path))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        if not report.ok:
            raise CommandError(f"{path} FAILED verification: " + "; ".join(report.problems))
        self.stdout.write(f"{path} verified: {report.tables} tables, {report.rows} rows match")

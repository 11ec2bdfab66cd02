"""manage.py restore FILE: replace the database's contents with a backup."""

from django.core.management.base import BaseCommand, CommandError

from ops.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` into the configured database."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--yes", action="store_true", help="really replace the current database's contents"
        )

    def handle(self, *args, **options):
        if not options["yes"]:
            raise CommandError(
                "restore replaces everything in the configured database; run it again with --yes "
                "(stop web, workers and beat first)"
            )
        try:
            manifest = restore_backup(options["file"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored {manifest['file']} taken at {manifest['created_at']}")

"""manage.py backup: back up Vigil's own database now (BACKUP_DIR, copies, retention)."""

from django.core.management.base import BaseCommand, CommandError

from ops.backup import BackupError, create_backup, ping_heartbeat


class Command(BaseCommand):
    help = "Back up Vigil's database (pg_dump custom format, or SQLite's online backup)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="directory for the backup (default BACKUP_DIR)")

    def handle(self, *args, **options):
        try:
            result = create_backup(directory=options.get("dir"))
        except BackupError as exc:
            ping_heartbeat(False, str(exc))
            raise CommandError(str(exc)) from None
        manifest = result.manifest
        rows = sum(t["rows"] for t in manifest["tables"].values())
        ping_heartbeat(True, f"{result.path.name} {manifest['size']} bytes")
        self.stdout.write(
            f"backup written: {result.path} ({manifest['size']} bytes, "
            f"{len(manifest['tables'])} tables, {rows} rows)"
        )
        for copy in result.copies:
            self.stdout.write(f"copied to {copy}")
        for name in result.removed:
            self.stdout.write(f"removed by retention: {name}")

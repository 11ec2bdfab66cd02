"""Backups prove themselves: backup -> restore into a fresh database -> compare, on PostgreSQL
(pg_dump/pg_restore) and SQLite (online backup API); verify-backup catches damage; restore
refuses a backup from a newer schema."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from incidents.models import Incident
from ops import backup
from tests.factories import IncidentFactory, ServiceFactory


def _pg_fresh_database(db: dict) -> str:
    name = f"vigil_restore_{uuid.uuid4().hex[:10]}"
    with backup._pg_connect(db, "postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def _pg_drop(db: dict, name: str) -> None:
    with backup._pg_connect(db, "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_backup_restores_into_a_fresh_database_with_the_same_rows(tmp_path, settings):
    settings.BACKUP_COPY_DIR = str(tmp_path / "copy")
    service = ServiceFactory(name="Sales avatar")
    IncidentFactory.create_batch(5, service=service, title="Bot silent ' \" \\ ü")
    db = connection.settings_dict

    result = backup.create_backup(directory=tmp_path / "backups")
    manifest = result.manifest
    assert manifest["engine"] == "postgresql" and result.path.suffix == ".pgdump"
    assert manifest["tables"]["incidents_incident"]["rows"] == 5
    assert ["incidents", "0001_initial"] in manifest["migrations"]
    assert (tmp_path / "copy" / result.path.name).exists()

    fresh = _pg_fresh_database(db)
    try:
        backup._pg_restore(result.path, db, fresh)
        with backup._pg_connect(db, fresh) as conn, conn.cursor() as cursor:
            restored, migrations = backup._pg_summary(cursor)
            cursor.execute("SELECT title FROM incidents_incident ORDER BY id")
            titles = {row[0] for row in cursor.fetchall()}
        assert restored == manifest["tables"]
        assert migrations == manifest["migrations"]
        assert titles == {"Bot silent ' \" \\ ü"}
    finally:
        _pg_drop(db, fresh)

    report = backup.verify_backup(result.path)
    assert report.ok, report.problems
    assert report.rows == sum(t["rows"] for t in manifest["tables"].values())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_restore_command_brings_back_deleted_rows(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path
    service = ServiceFactory()
    IncidentFactory.create_batch(3, service=service)
    call_command("backup")
    Incident.objects.all().delete()
    (path,) = backup.backups_in(tmp_path)

    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(path))
    call_command("restore", str(path), "--yes")
    assert Incident.objects.count() == 3
    call_command("verify-backup")  # newest in BACKUP_DIR


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_verify_catches_a_backup_whose_rows_do_not_match(tmp_path):
    ServiceFactory()
    result = backup.create_backup(directory=tmp_path)
    manifest_path = Path(f"{result.path}.json")
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["incidents_service"]["rows"] += 1
    manifest_path.write_text(json.dumps(manifest))
    report = backup.verify_backup(result.path)
    assert not report.ok
    assert any("incidents_service" in p and "rows restored" in p for p in report.problems)
    with pytest.raises(CommandError, match="FAILED verification"):
        call_command("verify-backup", str(result.path))


@pytest.mark.django_db
def test_restore_refuses_a_backup_from_a_newer_schema(tmp_path):
    path = tmp_path / "vigil-20260101T000000000000Z.sqlite3"
    path.write_bytes(b"x")
    manifest = {"format": backup.FORMAT, "engine": backup.engine_of(connection.settings_dict),
                "sha256": backup._sha256(path), "file": path.name, "tables": {},
                "migrations": [["incidents", "0001_initial"], ["incidents", "0999_from_the_future"]]}  # fmt: skip
    Path(f"{path}.json").write_text(json.dumps(manifest))
    with pytest.raises(backup.BackupError, match="newer schema.*incidents.0999_from_the_future"):
        backup.restore_backup(path)


@pytest.mark.django_db
def test_restore_refuses_a_damaged_file(tmp_path):
    path = tmp_path / "vigil-20260101T000000000000Z.sqlite3"
    path.write_bytes(b"original")
    manifest = {"format": backup.FORMAT, "engine": backup.engine_of(connection.settings_dict),
                "sha256": backup._sha256(path), "file": path.name, "tables": {},
                "migrations": []}  # fmt: skip
    Path(f"{path}.json").write_text(json.dumps(manifest))
    path.write_bytes(b"tampered")
    with pytest.raises(backup.BackupError, match="SHA-256"):
        backup.restore_backup(path)


def _sqlite_vigil(path: Path) -> dict:
    """A SQLite database shaped like Vigil's (real migration names, some rows)."""
    conn = sqlite3.connect(str(path))
    conn.executescript(
        """
        CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT);
        INSERT INTO django_migrations (app, name, applied) VALUES
            ('incidents', '0001_initial', '2026-01-01'), ('oncall', '0001_initial', '2026-01-01');
        CREATE TABLE incidents_incident (id INTEGER PRIMARY KEY, title TEXT, severity INTEGER);
        """
    )
    conn.executemany(
        "INSERT INTO incidents_incident (title, severity) VALUES (?, ?)",
        [(f"incident {n} ü", n % 5 + 1) for n in range(50)],
    )
    conn.commit()
    conn.close()
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


def test_sqlite_backup_restore_verify_round_trip(tmp_path, settings):
    settings.BACKUP_KEEP = 2
    db = _sqlite_vigil(tmp_path / "live.sqlite3")
    result = backup.create_backup(directory=tmp_path / "b", db=db)
    assert result.manifest["engine"] == "sqlite"
    assert result.manifest["tables"]["incidents_incident"]["rows"] == 50
    assert backup.verify_backup(result.path, db=db).ok

    # Damage after the backup: the live database loses rows; the restore brings them back.
    conn = sqlite3.connect(db["NAME"])
    conn.execute("DELETE FROM incidents_incident WHERE id > 10")
    conn.commit()
    conn.close()
    fresh = {"ENGINE": db["ENGINE"], "NAME": str(tmp_path / "fresh.sqlite3")}
    backup.restore_backup(result.path, db=fresh)
    conn = sqlite3.connect(fresh["NAME"])
    restored, migrations = backup._sqlite_summary(conn)
    conn.close()
    assert restored == result.manifest["tables"]
    assert migrations == result.manifest["migrations"]

    # Retention keeps the newest BACKUP_KEEP.
    for _ in range(3):
        backup.create_backup(directory=tmp_path / "b", db=db)
    assert len(backup.backups_in(tmp_path / "b")) == 2
    assert not result.path.exists()


def test_sqlite_backup_is_consistent_while_another_connection_writes(tmp_path):
    db = _sqlite_vigil(tmp_path / "live.sqlite3")
    writer = sqlite3.connect(db["NAME"])
    writer.execute("BEGIN")
    writer.execute("INSERT INTO incidents_incident (title, severity) VALUES ('uncommitted', 1)")
    result = backup.create_backup(directory=tmp_path / "b", db=db)
    writer.rollback()
    writer.close()
    assert result.manifest["tables"]["incidents_incident"]["rows"] == 50
    assert backup.verify_backup(result.path, db=db).ok


@pytest.fixture
def heartbeat_receiver():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hits.append((self.path, body.decode()))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield type("Hits", (), {"hits": hits, "url": f"http://127.0.0.1:{server.server_port}/ping/u1"})
    server.shutdown()
    server.server_close()


@pytest.fixture
def s3_server(monkeypatch):
    """moto's S3-compatible server, a real HTTP server on 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_scheduled_backup_goes_to_s3_and_pings_its_heartbeat(
    tmp_path, settings, s3_server, heartbeat_receiver
):
    import boto3

    from ops.tasks import backup as backup_task

    settings.BACKUP_DIR = tmp_path
    settings.BACKUP_S3_BUCKET = "vigil-backups"
    settings.BACKUP_S3_ENDPOINT_URL = s3_server
    settings.BACKUP_HEARTBEAT_URL = heartbeat_receiver.url
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="vigil-backups")
    ServiceFactory()

    name = backup_task.apply().get()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="vigil-backups")["Contents"]}
    assert keys == {f"vigil/{name}", f"vigil/{name}.json"}
    stored = s3.get_object(Bucket="vigil-backups", Key=f"vigil/{name}")["Body"].read()
    assert stored == (tmp_path / name).read_bytes()
    assert heartbeat_receiver.hits[0][0] == "/ping/u1" and name in heartbeat_receiver.hits[0][1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failed_backup_pings_the_heartbeat_fail_url(tmp_path, settings, heartbeat_receiver):
    from ops.tasks import backup as backup_task

    settings.BACKUP_DIR = tmp_path
    settings.BACKUP_HEARTBEAT_URL = heartbeat_receiver.url
    settings.BACKUP_S3_BUCKET = ""
    broken = {**connection.settings_dict, "NAME": "no_such_database_here"}
    import ops.backup as module

    original = module.default_db
    module.default_db = lambda: broken
    try:
        with pytest.raises(backup.BackupError):
            backup_task.apply(throw=True)
    finally:
        module.default_db = original
    assert heartbeat_receiver.hits[0][0] == "/ping/u1/fail"
    assert "no_such_database_here" in heartbeat_receiver.hits[0][1]

from django.db import migrations

# PostgreSQL refuses UPDATE on timeline rows, so "append-only" holds even for raw SQL and admin
# mistakes. (Deleting an incident still cascades to its entries.) SQLite relies on the model.
FORWARD = """
CREATE OR REPLACE FUNCTION incidents_timeline_no_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'timeline entries are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_timeline_no_update BEFORE UPDATE ON incidents_timelineentry
    FOR EACH ROW EXECUTE FUNCTION incidents_timeline_no_update();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS incidents_timeline_no_update ON incidents_timelineentry;
DROP FUNCTION IF EXISTS incidents_timeline_no_update();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]

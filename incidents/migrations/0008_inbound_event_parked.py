# Parked deliveries (ingest.applying.salvage) and routing keys redacted from stored raw bodies.

from django.db import migrations, models


def redact_stored_routing_keys(apps, schema_editor):
    from incidents.ingest.payload import redact_routing_keys

    InboundEvent = apps.get_model("incidents", "InboundEvent")
    rows = InboundEvent.objects.filter(
        integration__kind="pagerduty", raw_body__contains="routing"
    ).only("id", "raw_body")
    for event in rows.iterator(chunk_size=1000):
        redacted = redact_routing_keys(event.raw_body)
        if redacted != event.raw_body:
            InboundEvent.objects.filter(pk=event.pk).update(raw_body=redacted)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0007_service_archived_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="inboundevent",
            name="parked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="inboundevent",
            index=models.Index(
                condition=models.Q(("parked_at__isnull", False)),
                fields=["id"],
                name="inbound_event_parked_idx",
            ),
        ),
        migrations.RunPython(redact_stored_routing_keys, migrations.RunPython.noop),
    ]

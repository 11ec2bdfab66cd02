"""REST API of the incident core: services, incidents with their actions, timelines, and the
integrations and alerts of ingestion (incidents.ingest.api)."""

from incidents.api.views import IncidentViewSet, ServiceViewSet, TimelineViewSet


def register(router) -> None:
    from incidents.ingest import api as ingest_api

    router.register("services", ServiceViewSet, basename="service")
    router.register("incidents", IncidentViewSet, basename="incident")
    router.register(
        r"incidents/(?P<incident_pk>\d+)/timeline", TimelineViewSet, basename="incident-timeline"
    )
    ingest_api.register(router)

"""Copyable set-up examples for each kind of integration, shown once with the new token.

Each example is exactly what the sender needs: a ``curl`` that opens a test incident (generic,
PagerDuty), the ``webhook_configs`` block of an Alertmanager receiver, the settings of a Grafana
contact point. Quoting is done with shlex so a URL can be pasted into any POSIX shell.
"""

from __future__ import annotations

import json
import shlex

from incidents.models import IntegrationKind


def _curl(url: str, body: dict) -> str:
    return " \\\n  ".join(
        [
            "curl -sS -X POST",
            "-H 'Content-Type: application/json'",
            f"--data {shlex.quote(json.dumps(body))}",
            shlex.quote(url),
        ]
    )


def example_for(*, kind: str, url: str, token: str, service_name: str) -> dict:
    """``{"title", "language", "text", "curl"}``; ``curl`` is set when the example is one."""
    if kind == IntegrationKind.GENERIC:
        body = {
            "title": f"Test alert for {service_name}",
            "dedup_key": "vigil-setup-test",
            "severity": "warning",
            "status": "firing",
            "description": "Sent by the example on the integration page.",
        }
        text = _curl(url, body)
        return {"title": "Send a test alert", "language": "shell", "text": text, "curl": text}
    if kind == IntegrationKind.PAGERDUTY:
        body = {
            "routing_key": token,
            "event_action": "trigger",
            "dedup_key": "vigil-setup-test",
            "payload": {
                "summary": f"Test event for {service_name}",
                "source": "vigil-setup",
                "severity": "warning",
            },
        }
        text = _curl(url, body)
        return {
            "title": "Send a test event (Events API v2)",
            "language": "shell",
            "text": text,
            "curl": text,
        }
    if kind == IntegrationKind.ALERTMANAGER:
        text = "\n".join(
            [
                "# alertmanager.yml",
                "receivers:",
                "  - name: vigil",
                "    webhook_configs:",
                f"      - url: {json.dumps(url)}",
                "        send_resolved: true",
                "        max_alerts: 0",
                "route:",
                "  receiver: vigil",
            ]
        )
        return {"title": "Alertmanager receiver", "language": "yaml", "text": text, "curl": ""}
    text = "\n".join(
        [
            "Alerting → Contact points → + Add contact point",
            f"  Name:         Vigil — {service_name}",
            "  Integration:  Webhook",
            f"  URL:          {url}",
            "  HTTP Method:  POST",
            "  Optional Webhook settings → HMAC signature: the secret set on this integration",
            "  (header X-Grafana-Alerting-Signature, timestamp header X-Grafana-Alerting-Timestamp)",
            "Then: Notification policies → route the alerts of this service to the contact point.",
        ]
    )
    return {"title": "Grafana contact point", "language": "text", "text": text, "curl": ""}

import ipaddress
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from incidents import outbound

LOCAL = [ipaddress.ip_network("127.0.0.0/8")]


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    answers: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.received.append((self.path, dict(self.headers), body))
        if self.path.startswith("/chain/"):
            remaining = int(self.path.rsplit("/", 1)[1])
            self.send_response(307 if remaining else 200)
            if remaining:
                self.send_header("Location", f"/chain/{remaining - 1}")
            self.end_headers()
            return
        if self.path == "/to-private":
            self.send_response(307)
            self.send_header("Location", "http://10.0.0.1/hook")
            self.end_headers()
            return
        if self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            for _ in range(1200):  # a minute of trickling if nobody stops reading
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
            return
        status = Receiver.answers.pop(0) if Receiver.answers else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"thanks")


@pytest.fixture
def receiver():
    Receiver.received, Receiver.answers = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True), ("2001:4860:4860::8888", True),
        ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
        ("100.64.0.1", False), ("169.254.169.254", False), ("::1", False), ("fd00::1", False),
        ("fe80::1", False), ("2002:7f00:1::1", False), ("2001:0:4136:e378::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("0.0.0.0", False),
        ("not-an-ip", False),
    ],
)  # fmt: skip
def test_address_guard(address, allowed, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert outbound.address_allowed(address) is allowed


def test_allow_list_opens_a_named_network(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOCAL
    assert outbound.address_allowed("127.0.0.1")
    assert outbound.address_allowed("::ffff:127.0.0.1")
    assert not outbound.address_allowed("10.0.0.1")


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/"]
)
def test_post_to_private_or_metadata_address_is_refused_with_a_clear_error(url, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    result = outbound.post_json(url, {"a": 1}, timeout=2)
    assert not result.ok and not result.retryable
    assert "refused to connect" in result.error
    assert "PROBE_ALLOWED_NETWORKS" in result.error


def test_loopback_refused_unless_allowed(receiver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert "refused to connect" in outbound.post_json(receiver + "/ok", {}).error
    assert Receiver.received == []
    settings.OUTBOUND_ALLOWED_NETWORKS = LOCAL
    assert outbound.post_json(receiver + "/ok", {}).ok


def test_signed_delivery_verifies_at_the_receiver(receiver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOCAL
    result = outbound.post_json(receiver + "/ok", {"incident": "INC-7"}, secret="s3cret")
    assert result.ok and result.status == 200 and result.body == "thanks"
    _, headers, body = Receiver.received[-1]
    assert json.loads(body) == {"incident": "INC-7"}
    timestamp, signature = headers["X-Vigil-Timestamp"], headers["X-Vigil-Signature"]
    assert outbound.verify("s3cret", timestamp, body, signature)
    assert not outbound.verify("other", timestamp, body, signature)
    assert not outbound.verify("s3cret", timestamp, body + b" ", signature)
    assert not outbound.verify("s3cret", str(int(timestamp) - 301), body, signature)


def test_status_classification(receiver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOCAL
    Receiver.answers = [500, 400, 429]
    first, second, third = (outbound.post_json(receiver + "/ok", {}) for _ in range(3))
    assert (first.ok, first.status, first.retryable) == (False, 500, True)
    assert (second.ok, second.status, second.retryable) == (False, 400, False)
    assert (third.status, third.retryable) == (429, True)


def test_redirect_to_a_private_address_is_refused(receiver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOCAL
    result = outbound.post_json(receiver + "/to-private", {})
    assert not result.ok
    assert "refused to connect to 10.0.0.1" in result.error


def test_three_redirects_are_followed_and_a_fourth_is_refused(receiver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOCAL
    assert outbound.post_json(receiver + "/chain/3", {}).ok
    assert len(Receiver.received) == 4  # the first request and three redirect hops
    Receiver.received.clear()
    result = outbound.post_json(receiver + "/chain/4", {})
    assert not result.ok and "more than 3 redirects" in result.error
    assert len(Receiver.received) == 4


def test_a_trickling_body_fails_at_the_deadline_not_later(receiver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = LOCAL
    started = time.monotonic()
    result = outbound.post_json(receiver + "/trickle", {}, timeout=1)
    elapsed = time.monotonic() - started
    assert not result.ok and result.retryable
    assert "within 1 s" in result.error
    assert elapsed < 30  # the body would take a minute; a generous bound for a loaded machine


# --- one JSON template language for L1 actions and runbook actions -------------------------


def _template_context():
    from incidents.outbound import incident_template_context

    class _Service:
        name, slug = "Sales avatar", "sales-avatar"

    class _Incident:
        pk, reference, title, summary = 42, "INC-42", 'Replies "stopped"', ""
        severity, status, dedup_key, service = 4, "triggered", "k", _Service()

    return {**incident_template_context(_Incident()), "level": 1}


def test_template_fills_paths_and_the_dollar_aliases_alike(settings):
    from incidents.outbound import fill_json_template

    settings.BASE_URL = "https://vigil.example/"
    filled = fill_json_template(
        {
            "title": "{{ incident.title }}",
            "old": "$title",
            "braced": "${reference} on ${service_slug}",
            "severity": "{{ incident.severity }}",
            "severity_text": "$severity",
            "mixed": "{{incident.reference}} sev $severity (L$level)",
            "url": "$url",
            "nested": [{"{{ service.slug }}": "{{ incident.url }}"}],
        },
        _template_context(),
    )
    assert filled == {
        "title": 'Replies "stopped"',
        "old": 'Replies "stopped"',
        "braced": "INC-42 on sales-avatar",
        "severity": 4,  # a lone {{ path }} keeps the value's type
        "severity_text": "4",  # the $ form always gives text, as it always did
        "mixed": "INC-42 sev 4 (L1)",
        "url": "https://vigil.example/incidents/42/",
        "nested": [{"sales-avatar": "https://vigil.example/incidents/42/"}],
    }


def test_template_leaves_unknown_names_and_never_rereads_inserted_text():
    from incidents.outbound import fill_json_template

    context = _template_context()
    context["incident"]["title"] = "costs $title and {{ incident.reference }}"
    filled = fill_json_template(
        ["$unknown", "{{ incident.nothing }}", "$$title", "{{ incident.title }}!"], context
    )
    assert filled == ["$unknown", "", "$title", "costs $title and {{ incident.reference }}!"]


def test_l1_and_runbook_bodies_share_the_filler_and_the_room_url(settings, service):
    from incidents.outbound import incident_url
    from oncall.messages import incident_facts, render_action_body
    from tests.factories import open_incident

    settings.BASE_URL = "https://vigil.example"
    incident = open_incident(service)
    body = render_action_body(
        {"a": "$reference", "b": "{{ incident.reference }}", "l": "$level"},
        incident=incident,
        level=2,
    )
    assert body == {"a": incident.reference, "b": incident.reference, "l": "2"}
    assert incident_url(incident) == f"https://vigil.example/incidents/{incident.pk}/"
    assert incident_facts(incident)["url"] == incident_url(incident)

"""A status page in several languages: texts per language, the reader's language chosen by
``?lang=`` or Accept-Language with the page's default as fallback, German chrome, and the
avatar's degradation message in each language."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.utils import translation

from incidents import services as incident_services
from incidents.actors import Actor
from llm.routing import degradation_message
from statuspage.degradation import current
from statuspage.models import PublicUpdate, Subscriber
from statuspage.services import subscribers, updates
from tests.statuspage.factories import SubscriberFactory, TemplateFactory

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")
ROOT = Path(settings.BASE_DIR)
CATALOG = ROOT / "statuspage" / "locale" / "de" / "LC_MESSAGES"


@pytest.fixture
def bilingual(page, component):
    page.languages = ["en", "de"]
    page.auto_post_first_update = True
    page.save()
    component.translations = {"de": {"name": "Chat auf der Website"}}
    component.save()
    return page


@pytest.fixture
def template(team):
    return TemplateFactory(
        team=team,
        title="{service} is slow",
        body="Answers from {components} are slow. {workaround}.",
        workaround="Reload the page",
        degradation_message="I am slow right now, sorry.",
        translations={
            "de": {
                "title": "{service} ist langsam",
                "body": "Antworten von {components} sind langsam. {workaround}.",
                "workaround": "Laden Sie die Seite neu",
                "degradation_message": "Ich bin gerade langsam, Entschuldigung.",
            }
        },
    )


def _degradation(client, service, **headers):
    return client.get(f"/api/v1/services/{service.slug}/degradation", **headers)


def test_the_drafted_update_carries_the_template_words_in_each_page_language(
    bilingual, template, service, open_incident
):
    open_incident(service, severity=4)
    update = PublicUpdate.objects.get()
    assert update.body == "Answers from Website chat are slow. Reload the page."
    assert update.translations == {
        "de": {"body": "Antworten von Chat auf der Website sind langsam. Laden Sie die Seite neu."}
    }
    public = update.public_incident
    assert public.translations["de"] == {
        "name": f"{service.name} ist langsam",
        "degradation_message": "Ich bin gerade langsam, Entschuldigung.",
    }


def test_without_a_template_the_default_words_are_translated(bilingual, service, open_incident):
    open_incident(service, severity=4)
    update = PublicUpdate.objects.get()
    assert update.body.startswith("We are investigating problems with Website chat")
    assert update.translations["de"]["body"].startswith("Wir untersuchen seit")
    assert "Chat auf der Website" in update.translations["de"]["body"]


def test_the_public_page_answers_in_the_readers_language(
    bilingual, template, service, open_incident, client
):
    open_incident(service, severity=4)
    german = client.get("/status/acme/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    assert german.status_code == 200
    assert german["Content-Language"] == "de"
    assert "Accept-Language" in german["Vary"]
    html = german.content.decode()
    assert '<html lang="de">' in html
    for words in ("Schwerer Ausfall", "Komponenten", "Chat auf der Website",
                  "Antworten von Chat auf der Website sind langsam", "Wird untersucht",
                  "Benachrichtigungen erhalten", "% verfügbar"):  # fmt: skip
        assert words in html, words
    assert "Answers from Website chat" not in html
    english = client.get("/status/acme/?lang=en", HTTP_ACCEPT_LANGUAGE="de")
    assert english["Content-Language"] == "en"
    assert "Answers from Website chat are slow" in english.content.decode()
    assert "Major System Outage" in english.content.decode()
    # A language the page does not speak gets the page's default.
    french = client.get("/status/acme/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert french["Content-Language"] == "en"
    # The switcher links work without JavaScript.
    assert 'href="?lang=de"' in english.content.decode()


def test_a_text_without_translation_falls_back_to_the_default_language(
    bilingual, service, open_incident, committed, client
):
    incident = open_incident(service, severity=2)
    committed(
        updates.post_update,
        page=bilingual,
        incident=incident,
        status="identified",
        body="The model provider limits our requests.",
        actor=SYSTEM,
    )
    html = client.get("/status/acme/?lang=de").content.decode()
    assert "The model provider limits our requests." in html  # written in English only
    assert "Ursache gefunden" in html  # the chrome is still German


def test_a_single_language_page_ignores_accept_language(page, component, client):
    response = client.get("/status/acme/", HTTP_ACCEPT_LANGUAGE="de")
    assert response["Content-Language"] == "en"
    assert "All Systems Operational" in response.content.decode()
    assert 'href="?lang=' not in response.content.decode()


def test_a_page_whose_default_is_german(page, component, client):
    page.languages = ["de", "en"]
    page.save()
    response = client.get("/status/acme/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response["Content-Language"] == "de"
    assert "Alle Systeme funktionieren" in response.content.decode()


def test_summary_and_feed_follow_the_language_too(
    bilingual, template, service, open_incident, client
):
    open_incident(service, severity=4)
    summary = client.get("/status/acme/summary.json?lang=de").json()
    assert summary["components"][0]["name"] == "Chat auf der Website"
    assert summary["incidents"][0]["incident_updates"][0]["body"].startswith("Antworten von")
    feed = client.get("/status/acme/feed.atom", HTTP_ACCEPT_LANGUAGE="de")
    assert feed["Content-Language"] == "de"
    assert "Antworten von Chat auf der Website" in feed.content.decode()


def test_degradation_message_in_the_readers_language(
    bilingual, template, service, open_incident, client
):
    open_incident(service, severity=4)
    english = _degradation(client, service)
    assert english.json()["message"] == "I am slow right now, sorry."
    assert english.json()["language"] == "en"
    assert english.json()["messages"] == {
        "en": "I am slow right now, sorry.",
        "de": "Ich bin gerade langsam, Entschuldigung.",
    }
    by_header = _degradation(client, service, HTTP_ACCEPT_LANGUAGE="de-AT,de;q=0.8")
    assert by_header.json()["message"] == "Ich bin gerade langsam, Entschuldigung."
    assert by_header["Content-Language"] == "de" and by_header["Vary"] == "Accept-Language"
    by_query = _degradation(client, service, HTTP_ACCEPT_LANGUAGE="de", data={"lang": "en"})
    assert by_query.json()["language"] == "en"
    unknown = _degradation(client, service, data={"lang": "fr"})
    assert unknown.json()["language"] == "en"  # the page's default
    # Each language has its own ETag; each answers 304 to its own.
    assert by_header["ETag"] != english["ETag"]
    again = _degradation(
        client, service, HTTP_ACCEPT_LANGUAGE="de", HTTP_IF_NONE_MATCH=by_header["ETag"]
    )
    assert again.status_code == 304
    assert _degradation(client, service, HTTP_IF_NONE_MATCH=by_header["ETag"]).status_code == 200
    state = current(service)
    assert state.message_in("de") == "Ich bin gerade langsam, Entschuldigung."
    assert degradation_message(service, "de") == "Ich bin gerade langsam, Entschuldigung."
    assert degradation_message(service) == "I am slow right now, sorry."


def test_default_degradation_sentence_in_each_language(bilingual, service, open_incident, client):
    open_incident(service, severity=5)
    body = _degradation(client, service, data={"lang": "de"}).json()
    assert body["state"] == "major_outage"
    assert body["message"].startswith("Wegen eines technischen Problems")
    assert body["messages"]["en"].startswith("I cannot help properly right now")


def test_a_posted_update_can_set_the_degradation_message_per_language(
    bilingual, service, open_incident, manager, client, committed
):
    incident = open_incident(service, severity=2)
    client.force_login(manager)
    response = committed(
        client.post,
        "/api/v1/status-updates/",
        {
            "page": "acme",
            "incident": incident.pk,
            "status": "identified",
            "body": "Our model provider is rate-limiting us.",
            "degradation_message": "I answer slowly while our provider limits us.",
            "translations": {
                "de": {
                    "body": "Unser Modellanbieter drosselt uns.",
                    "degradation_message": "Ich antworte langsam, solange uns der Anbieter "
                    "drosselt.",
                }
            },
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["translations"] == {"de": {"body": "Unser Modellanbieter drosselt uns."}}
    client.logout()
    assert _degradation(client, service, data={"lang": "de"}).json()["message"] == (
        "Ich antworte langsam, solange uns der Anbieter drosselt."
    )


@pytest.mark.parametrize(
    "translations, named",
    [
        ({"xx_not a code": {"body": "x"}}, "language code"),
        ({"fr": {"body": "Bonjour"}}, "fr is not a language of status page acme"),
        ({"de": {"title": "x"}}, "unknown field"),
        ({"de": {"body": "x" * 5001}}, "at most 5000"),
    ],
)
def test_bad_update_translations_are_400_naming_them(
    bilingual, service, open_incident, manager, client, translations, named
):
    incident = open_incident(service, severity=2)
    client.force_login(manager)
    response = client.post(
        "/api/v1/status-updates/",
        {"page": "acme", "incident": incident.pk, "status": "identified", "body": "x",
         "translations": translations},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert named in response.content.decode()
    assert not PublicUpdate.objects.filter(posted_at__isnull=False).exists()


def test_template_translations_are_checked_for_placeholders(team, manager, client):
    client.force_login(manager)
    response = client.post(
        "/api/v1/status-templates/",
        {"team": team.pk, "name": "slow", "title": "{service} slow", "body": "Slow.",
         "translations": {"de": {"body": "Langsam seit {startzeit}."}}},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "translations.de.body: unknown placeholder {startzeit}" in response.content.decode()


def test_page_languages_are_validated(page, manager, client):
    client.force_login(manager)
    for bad in ([], ["en", "en"], ["english"], "de"):
        response = client.patch(
            "/api/v1/status-pages/acme/", {"languages": bad}, content_type="application/json"
        )
        assert response.status_code == 400, bad
    response = client.patch(
        "/api/v1/status-pages/acme/", {"languages": ["DE", "en"]}, content_type="application/json"
    )
    assert response.status_code == 200
    page.refresh_from_db()
    assert page.languages == ["de", "en"] and page.default_language == "de"


def test_subscribers_hear_in_the_language_they_subscribed_in(
    bilingual, service, open_incident, committed, client
):
    response = committed(
        client.post, "/status/acme/subscribe/", {"email": "leser@example.de", "lang": "de"}
    )
    assert response.status_code == 200 and response["Content-Language"] == "de"
    assert "Sehen Sie in Ihr Postfach" in response.content.decode()
    subscriber = Subscriber.objects.get()
    assert subscriber.language == "de"
    (confirmation,) = mail.outbox
    assert confirmation.subject.startswith("Bestätigen Sie Ihr Abonnement")
    assert "?lang=de" in confirmation.body
    subscriber.confirmed_at = subscriber.created_at
    subscriber.save()
    SubscriberFactory(page=bilingual, target="reader@example.org")
    incident = open_incident(service, severity=2)
    committed(
        updates.post_update,
        page=bilingual,
        incident=incident,
        status="identified",
        body="Found the cause.",
        translations={"de": {"body": "Ursache gefunden."}},
        actor=SYSTEM,
    )
    by_address = {m.to[0]: m for m in mail.outbox[1:]}
    assert "Ursache gefunden." in by_address["leser@example.de"].body
    assert "Ursache gefunden:" in by_address["leser@example.de"].body  # the state, in German
    assert "Found the cause." in by_address["reader@example.org"].body
    assert subscribers.unsubscribe_url(subscriber).endswith("?lang=de")


def test_resolving_posts_the_resolved_words_in_each_language(
    bilingual, service, open_incident, committed
):
    incident = open_incident(service, severity=4)
    committed(incident_services.resolve, incident=incident, actor=SYSTEM)
    resolved = PublicUpdate.objects.get(status="resolved")
    assert resolved.body.startswith("This incident has been resolved")
    assert resolved.translations == {
        "de": {"body": "Diese Störung ist behoben. Danke für Ihre Geduld."}
    }


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_room_panel_takes_the_words_in_each_page_language(
    page, component, service, responder, open_incident, client, committed
):
    page.languages = ["en", "de"]
    page.save()
    incident = open_incident(service, severity=3)
    draft = PublicUpdate.objects.get(public_incident__incident=incident)
    client.force_login(responder)
    room = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'name="body_de"' in room and "In Deutsch" in room
    response = committed(
        client.post,
        f"/status/updates/{draft.pk}/approve/",
        {"body": draft.body, "body_de": "Wir untersuchen es."},
        **HTMX,
    )
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.posted_at is not None
    assert draft.translations == {"de": {"body": "Wir untersuchen es."}}
    data = {
        "page": "acme",
        "status": "identified",
        "body": "We found the cause.",
        "body_de": "Wir haben die Ursache gefunden.",
        "degradation_message": "I am limited for a while.",
        "degradation_de": "Ich bin eine Weile eingeschränkt.",
    }
    response = committed(client.post, f"/status/incident/{incident.pk}/post/", data, **HTMX)
    assert response.status_code == 200
    posted = PublicUpdate.objects.filter(status="identified").get()
    assert posted.translations == {"de": {"body": "Wir haben die Ursache gefunden."}}
    client.logout()
    html = client.get("/status/acme/?lang=de").content.decode()
    assert "Wir haben die Ursache gefunden." in html and "Wir untersuchen es." in html
    assert current(service).message_in("de") == "Ich bin eine Weile eingeschränkt."


# --- the German catalog --------------------------------------------------------------------

_TRANSLATE = re.compile(r"""{% translate ["']([^"']+)["'] %}""")
PUBLIC_TEMPLATES = ["page.html", "_public_base.html", "message.html", "confirm.html"]


def _public_strings() -> set[str]:
    found = set()
    for name in PUBLIC_TEMPLATES:
        found |= set(_TRANSLATE.findall((ROOT / "templates" / "statuspage" / name).read_text()))
    return found


def _po_entries(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file (enough of the format for our own catalog)."""
    entries: dict[str, str] = {}
    current: dict[str, list[str]] = {}
    key = None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = line.strip()
        if line.startswith("msgid "):
            if "msgstr" in current:
                entries["".join(current["msgid"])] = "".join(current["msgstr"])
            current, key = {"msgid": []}, "msgid"
            line = line[len("msgid ") :]
        elif line.startswith("msgstr "):
            key = "msgstr"
            current["msgstr"] = []
            line = line[len("msgstr ") :]
        if line.startswith('"') and key:
            current[key].append(line[1:-1].encode().decode("unicode_escape").encode("latin-1")
                                .decode("utf-8"))  # fmt: skip
    if "msgstr" in current:
        entries["".join(current["msgid"])] = "".join(current["msgstr"])
    entries.pop("", None)
    return entries


def test_every_string_of_the_public_page_has_a_german_translation():
    entries = _po_entries(CATALOG / "django.po")
    missing = sorted(s for s in _public_strings() if not entries.get(s))
    assert not missing, f"add German translations to statuspage/locale: {missing}"
    with translation.override("de"):
        assert translation.gettext("Past incidents") == "Frühere Störungen"


def test_the_committed_mo_matches_the_po():
    """`make messages` compiles the catalog; the compiled file is committed so a checkout
    without gettext works. It must say what the .po says."""
    entries = _po_entries(CATALOG / "django.po")
    with open(CATALOG / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [msgid for msgid, msgstr in entries.items() if compiled.gettext(msgid) != msgstr]
    assert not stale, f"run `make messages` and commit django.mo: {stale[:5]}"

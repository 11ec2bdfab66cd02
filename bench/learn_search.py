"""Knowledge-base search and post-mortem pages at volume, against a baseline in the same run.

    python bench/learn_search.py [--postmortems 5000] [--runbooks 1000] [--runs 50]

Uses its own PostgreSQL database (vigil_learn_bench, created and migrated on first run; the
data is seeded once and reused). Prints p50/p95 of: the baseline (fetch one post-mortem by
primary key through the ORM), the knowledge-base search across published post-mortems and
runbooks, and the post-mortem detail page and lists through the Django test client.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "vigil_learn_bench"

WORDS = [
    "provider",
    "rate",
    "limit",
    "quota",
    "latency",
    "timeout",
    "certificate",
    "expired",
    "deploy",
    "rollback",
    "index",
    "retrieval",
    "drift",
    "prompt",
    "injection",
    "vector",
    "store",
    "gateway",
    "memory",
    "leak",
    "cache",
    "dns",
    "outage",
    "voice",
    "transcription",
    "model",
    "upgrade",
    "failover",
    "circuit",
    "breaker",
    "token",
    "budget",
    "webhook",
]


def _ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _text(seed: int, n: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 13) % len(WORDS)] for i in range(n))


def _seed(postmortems: int, runbooks: int):
    from django.utils import timezone

    from accounts.models import Membership, Role, Team, User
    from incidents.models import Incident, Service, Status
    from postmortems.models import PostMortem, WhyNode
    from postmortems.models import Status as PMStatus
    from runbooks.models import Runbook

    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    user, _ = User.objects.get_or_create(username="bench-manager")
    Membership.objects.get_or_create(user=user, team=team, defaults={"role": Role.MANAGER})
    service, _ = Service.objects.get_or_create(
        slug="bench-svc", defaults={"team": team, "name": "Bench service", "rto_minutes": 60}
    )
    have = PostMortem.objects.filter(team=team).count()
    now = timezone.now()
    if have < postmortems:
        incidents = Incident.objects.bulk_create(
            Incident(
                team=team,
                service=service,
                title=f"Bench incident {i}: {_text(i, 4)}",
                status=Status.RESOLVED,
                triggered_at=now,
                resolved_at=now,
                last_seen_at=now,
                updated_at=now,
            )
            for i in range(have, postmortems)
        )
        pms = PostMortem.objects.bulk_create(
            PostMortem(
                incident=inc,
                team=team,
                title=inc.title,
                status=PMStatus.PUBLISHED,
                published_at=now,
                summary=_text(i, 40),
                impact=_text(i + 1, 30),
                what_went_wrong=_text(i + 2, 30),
                lessons_learned=_text(i + 3, 20),
            )
            for i, inc in enumerate(incidents, start=have)
        )
        WhyNode.objects.bulk_create(
            WhyNode(postmortem=pm, question=f"Why {j}?", answer=_text(pm.pk + j, 12), position=j)
            for pm in pms
            for j in range(3)
        )
    have_rb = Runbook.objects.filter(team=team).count()
    if have_rb < runbooks:
        Runbook.objects.bulk_create(
            Runbook(
                team=team,
                title=f"Runbook {i}: {_text(i, 3)}",
                body=_text(i, 120),
                next_review_at=now,
            )
            for i in range(have_rb, runbooks)
        )
    from postmortems.search import refresh_search_document as refresh_postmortem
    from runbooks.search import refresh_search_document as refresh_runbook

    # Rows seeded in bulk skip the services: fill their search documents the same way.
    for pk in PostMortem.objects.filter(team=team, search_document=None).values_list(
        "pk", flat=True
    ):
        refresh_postmortem(pk)
    for pk in Runbook.objects.filter(team=team, search_document=None).values_list("pk", flat=True):
        refresh_runbook(pk)
    return user, PostMortem.objects.filter(team=team).order_by("pk").first()


def _timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postmortems", type=int, default=5000)
    parser.add_argument("--runbooks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    _ensure_database()
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("VIGIL_DATA_DIR", "/tmp/vigil-learn-bench")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from incidents.knowledge import search_knowledge
    from postmortems.models import PostMortem

    call_command("migrate", verbosity=0)
    user, first = _seed(args.postmortems, args.runbooks)
    client = Client()
    client.force_login(user)
    client.get("/postmortems/")  # warm up

    rows = [
        ("baseline: one post-mortem by pk (ORM)", lambda: PostMortem.objects.get(pk=first.pk)),
        ("search 'rate limit' (FTS, both sources)", lambda: search_knowledge(user, "rate limit")),
        (
            "search 'certificate expired rollback'",
            lambda: search_knowledge(user, "certificate expired rollback"),
        ),
        ("GET /postmortems/search/?q=quota", lambda: client.get("/postmortems/search/?q=quota")),
        ("GET /postmortems/ (list)", lambda: client.get("/postmortems/")),
        ("GET /postmortems/<pk>/ (detail)", lambda: client.get(f"/postmortems/{first.pk}/")),
        ("GET /runbooks/?q=latency", lambda: client.get("/runbooks/?q=latency")),
        ("GET /postmortems/review/ (manager)", lambda: client.get("/postmortems/review/")),
    ]
    print(
        f"{args.postmortems} published post-mortems (3 whys each), {args.runbooks} runbooks, "
        f"{args.runs} runs each, {os.cpu_count()} cores"
    )
    for label, fn in rows:
        p50, p95 = _timed(fn, args.runs)
        print(f"  {label:45s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


if __name__ == "__main__":
    main()

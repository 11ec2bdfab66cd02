"""Demo seeders of the apps built on the core, run by ``manage.py seed_demo``.

The core never imports those apps, so each registers its seeder in its AppConfig.ready():

    register_demo_seeder(seed_demo_runbooks, order=20)

A seeder is called as ``seeder(team=..., author=...)`` after the core's demo data exists, inside
seed_demo's transaction, and must be idempotent (find rows by natural keys, create what is
missing). It returns a short description of what it added, or "" when nothing was added.
"""

from __future__ import annotations

from collections.abc import Callable

DemoSeeder = Callable[..., object]
_seeders: list[tuple[int, str, DemoSeeder]] = []


def register_demo_seeder(seeder: DemoSeeder, *, order: int = 50) -> None:
    name = f"{seeder.__module__}.{seeder.__qualname__}"
    if all(existing != name for _, existing, _ in _seeders):
        _seeders.append((order, name, seeder))


def demo_seeders() -> list[tuple[str, DemoSeeder]]:
    return [(name, seeder) for _, name, seeder in sorted(_seeders, key=lambda s: (s[0], s[1]))]

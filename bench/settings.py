"""Production-like settings for benchmarks: the real app plus the bare baseline view."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

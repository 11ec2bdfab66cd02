"""Settings of `make bench-status`: the benchmark settings plus a bare GET baseline view."""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.status_urls"

"""Refuse stale edits: a form carries the version of the row it was rendered from.

The version is a short hash of the fields the form edits, so no model needs a version column:
``version_of(service, FIELDS)`` goes into a hidden input, and the service that saves compares it
under the row lock with ``refuse_if_stale``. Someone else's save in between changes the hash and
the second save is refused with a message instead of silently overwriting the first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from config.errors import Conflict


class StaleEdit(Conflict):
    code = "stale_edit"


def version_of(instance, fields: Iterable[str]) -> str:
    parts = []
    for name in fields:
        value = getattr(instance, f"{name}_id" if _is_fk(instance, name) else name, None)
        parts.append(f"{name}={value!r}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _is_fk(instance, name: str) -> bool:
    try:
        field = instance._meta.get_field(name)
    except Exception:  # a property, not a field
        return False
    return bool(getattr(field, "many_to_one", False))


def refuse_if_stale(instance, fields: Iterable[str], given: str | None, *, what: str) -> None:
    """``given`` empty means the caller did not send a version (the API): nothing to compare."""
    if given and given != version_of(instance, fields):
        raise StaleEdit(
            f"cannot save {what}: someone else changed it since you opened the form. "
            "Reload to see their changes, then make yours again."
        )

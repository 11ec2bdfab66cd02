"""What the triage views share: the one way pages answer refused requests (config.web)."""

from config.web import bad_request, flash_error, refuse, see_other, wants_fragment

__all__ = ["bad_request", "flash_error", "refuse", "see_other", "wants_fragment"]

"""Why a top-up (a code, a grant or adjustment, a card payment) was refused; each message is safe to show."""
from __future__ import annotations


class TopupError(ValueError):
    """A top-up refused; the message is safe to show to the user."""


class InvalidAmount(TopupError):
    pass

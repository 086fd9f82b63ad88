"""The survey's error type: every refused input (track, video, photos, settings) is one line naming it."""

from __future__ import annotations

from crackseg.core.errors import CrackSegError


class SurveyError(CrackSegError):
    """A survey input or setting cannot be used; the message is one line fit to show as is."""

"""``replace``: the stage's own score alone; the order it received is forgotten (the usual cascade)."""

from __future__ import annotations

from .base import Fusion
from .registry import register_fusion


@register_fusion
class Replace(Fusion):
    name = "replace"
    title = "replace"
    help = "the stage's own score alone (the usual cascade)"
    scale_note = "the stage's own score alone: nothing is mixed"
    scale_safe = True
    position = 0
    mixes = False

    def combine(self, new, incoming, valid):
        return new

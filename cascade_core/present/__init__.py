"""The stakeholder view: one evaluated cascade told top to bottom (:mod:`.story`), for the Present
page and ``cascade report --present``. Above the analysis and the tuner, whose results it reads."""

from .story import EXPLAIN, Caveat, LostExample, StageBox, Story, plain_words, story

__all__ = ["EXPLAIN", "Caveat", "LostExample", "StageBox", "Story", "plain_words", "story"]

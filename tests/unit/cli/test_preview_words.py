"""A reset preview (``ksctl reset``, the console's preview: one sentence, killswitch/holds.py)
says what the lock binding the scope becomes in a person's words: after the reset, trading is
allowed again, never "active after" (issue 81)."""

from __future__ import annotations

from killswitch.holds import lock_change_text
from killswitch.render.ops import reset_preview_text
from killswitch.view import ActionPreview

ACC = "binanceusdm/main"


def test_a_reset_that_lifts_the_last_lock_says_trading_is_allowed_after():
    p = ActionPreview("reset", ACC, True, "PREVIEW: would reset (stage=1 approvers=alice,bob)", "live",
                      lock_before="halted", lock_after="active")
    text = reset_preview_text("bot-guard", p)
    assert f"  Lock binding {ACC}: halted now, trading allowed after." in text.splitlines(), text
    assert "active" not in text, text
    # a trigger that still fires enters the stage again at the next tick: said after the same words
    p = ActionPreview("reset", ACC, True, "PREVIEW: would reset (stage=1 approvers=alice,bob)", "live",
                      lock_before="halted", lock_after="active", relatch=("silent was firing",))
    assert (f"  Lock binding {ACC}: halted now, trading allowed after, then halted again at the next tick "
            "(a trigger still fires).") in reset_preview_text("bot-guard", p).splitlines()


def test_the_lock_sentence_in_every_case():
    assert lock_change_text(ACC, "active", "halted", False) == f"Lock binding {ACC}: trading allowed now, halted after."
    assert lock_change_text(ACC, "halted", None, True) == f"Lock binding {ACC}: halted now, unchanged after."
    assert lock_change_text(ACC, "halted", "halted", True) == f"Lock binding {ACC}: halted now, halted after."
    assert lock_change_text(ACC, None, "active", False) == ""

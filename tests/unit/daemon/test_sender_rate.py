"""The per-sender window of the SMTP listener: exact within a minute, bounded in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from maildesk.daemon.smtp import SenderRate

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_the_limit_holds_within_a_minute_and_frees_as_the_oldest_ages():
    rate = SenderRate(3)
    for s in (0, 10, 20):
        assert not rate.exceeded("a@example.com", T0 + timedelta(seconds=s))
        rate.count("a@example.com", T0 + timedelta(seconds=s))
    assert rate.exceeded("a@example.com", T0 + timedelta(seconds=59))
    assert not rate.exceeded("b@example.com", T0 + timedelta(seconds=59))
    # the first message is a minute old: one more is let in, not three
    assert not rate.exceeded("a@example.com", T0 + timedelta(seconds=60))
    rate.count("a@example.com", T0 + timedelta(seconds=60))
    assert rate.exceeded("a@example.com", T0 + timedelta(seconds=61))


def test_no_limit_keeps_nothing():
    rate = SenderRate(0)
    rate.count("a@example.com", T0)
    assert not rate.exceeded("a@example.com", T0)
    assert rate.senders() == 0


def test_senders_quiet_for_a_minute_are_forgotten():
    rate = SenderRate(60)
    for i in range(5000):  # a burst from distinct senders
        rate.count(f"customer{i}@example.com", T0)
    rate.count("late@example.com", T0 + timedelta(seconds=50))
    rate.exceeded("x@example.com", T0 + timedelta(seconds=30))
    assert rate.senders() == 5001  # all still inside the window
    rate.exceeded("x@example.com", T0 + timedelta(seconds=76))
    assert rate.senders() == 1  # only the one heard from within the last minute
    rate.exceeded("x@example.com", T0 + timedelta(seconds=200))
    assert rate.senders() == 0

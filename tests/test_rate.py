"""Rate and ETA arithmetic with a fake clock (no sleeping): steady, slowing, unknown, zero."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobcore.base import clock
from jobcore.base.rate import WINDOW_S, eta_seconds, rate_from_samples
from jobcore.state.progress_rows import SAMPLE_SPACING_S, apply_progress


def samples_at(rates: list[tuple[float, float]], spacing: float = SAMPLE_SPACING_S):
    """(time, done) samples every ``spacing`` s for consecutive (duration, rate) phases."""
    t, done = 0.0, 0.0
    points = [(t, 0)]
    for duration, rate in rates:
        for _ in range(round(duration / spacing)):
            t += spacing
            done += rate * spacing
            points.append((t, int(done)))
    return points


def test_too_few_samples_is_unknown() -> None:
    assert rate_from_samples([], 0.0) is None
    assert rate_from_samples([(5.0, 3)], 5.0) is None
    assert rate_from_samples([(5.0, 3), (5.0, 4)], 5.0) is None  # no time has passed


@pytest.mark.parametrize("rate", [0.5, 1.0, 7.0, 250.0, 10_000.0])
def test_steady_rate_is_exact(rate: float) -> None:
    points = samples_at([(60.0, rate)])
    now = points[-1][0]
    # done is an integer count: within one item per window of the true rate
    assert rate_from_samples(points, now) == pytest.approx(rate, rel=0.001, abs=1 / WINDOW_S)


def test_sudden_slowdown_converges_within_the_window() -> None:
    """100/s for a minute, then 10/s: the reported rate is 10/s once a window has passed."""
    fast = samples_at([(60.0, 100.0)])
    points = list(fast)
    reported = []
    t, done = points[-1]
    for _step in range(40):  # 20 s of the slow phase
        t += SAMPLE_SPACING_S
        done += 5  # 10/s
        points.append((t, done))
        reported.append((t - 60.0, rate_from_samples(points, t)))
    for since, rate in reported:
        assert rate is not None
        if since >= WINDOW_S:
            assert rate == pytest.approx(10.0, rel=1e-6), (since, rate)
        else:
            assert rate > 10.0  # the fast phase still counts, and fades
    figures = ", ".join(f"{since:.1f}s:{rate:.0f}/s" for since, rate in reported[:12])
    print(f"after the slowdown: {figures}")
    # It falls monotonically while the fast phase leaves the window.
    rates = [r for _, r in reported]
    assert all(a >= b for a, b in itertools.pairwise(rates))


def test_slow_items_still_have_a_rate() -> None:
    """One item a minute: the window holds a single sample, so the one before it is used."""
    points = [(0.0, 0), (60.0, 1), (120.0, 2)]
    assert rate_from_samples(points, 120.0) == pytest.approx(1 / 60)
    assert rate_from_samples(points, 150.0) == pytest.approx(1 / 60)


def test_a_stalled_job_decays_to_zero() -> None:
    points = samples_at([(30.0, 20.0)])
    t, done = points[-1]
    for _ in range(20):
        t += SAMPLE_SPACING_S
        points.append((t, done))
    assert rate_from_samples(points, t) == 0.0
    assert eta_seconds(done, done + 10, 0.0) is None  # no progress: no ETA, not infinity


def test_done_going_backwards_is_never_a_negative_rate() -> None:
    assert rate_from_samples([(0.0, 50), (1.0, 10)], 1.0) == 0.0


def test_eta() -> None:
    assert eta_seconds(10, 110, 5.0) == pytest.approx(20.0)
    assert eta_seconds(10, None, 5.0) is None  # unknown total
    assert eta_seconds(10, 100, None) is None  # unknown rate
    assert eta_seconds(0, 0, 3.0) == 0.0  # total 0: nothing left
    assert eta_seconds(0, 0, None) == 0.0  # nothing left is known even without a rate
    assert eta_seconds(12, 10, 1.0) == 0.0  # overshoot: done


class FakeClocks:
    """The boot clock at ``boot`` seconds and the wall clock ``step`` seconds off the boot
    clock (a step of the wall clock is a change of ``step``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.boot = 0.0
        self.step = 1e9
        monkeypatch.setattr(clock, "since_boot", lambda: self.boot)
        monkeypatch.setattr(clock, "wall", lambda: self.boot + self.step)


def _progress_at(store, clocks: FakeClocks, job_id: str, now: float, **fields) -> None:
    clocks.boot = now
    with store.write() as conn:
        apply_progress(conn, job_id, **fields)


def test_rate_through_the_store_with_a_fake_clock(store, monkeypatch) -> None:
    """The store keeps samples and computes rate/ETA from the clock's ``now``."""
    clocks = FakeClocks(monkeypatch)
    job = store.create_job(["true"], "/", {}, None)
    _progress_at(store, clocks, job.id, 1000.0, total=0)
    assert store.get(job.id).eta_s == 0.0  # total 0 is finished, not a division by zero
    for i in range(1, 41):
        _progress_at(store, clocks, job.id, 1000.0 + i * 0.5, done=i * 2, total=200)
    got = store.get(job.id)
    assert got.rate == pytest.approx(4.0)
    assert got.eta_s == pytest.approx((200 - 80) / 4.0)
    unknown = store.create_job(["true"], "/", {}, None)
    for i in range(1, 11):
        _progress_at(store, clocks, unknown.id, 2000.0 + i, advance=3)
    got = store.get(unknown.id)
    assert got.total is None and got.eta_s is None and got.rate == pytest.approx(3.0)


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
def test_a_step_of_the_wall_clock_changes_no_rate(store, monkeypatch, step: float) -> None:
    """2 items a second, sampled every 0.5 s; the wall clock jumps by an hour half-way.

    Timed on the wall clock, the sample after the step would make the rate 0 (an hour for
    2 items) or unknown (time running backwards); on the boot clock nothing happens.
    """
    clocks = FakeClocks(monkeypatch)
    job = store.create_job(["true"], "/", {}, None)
    for i in range(1, 21):
        if i == 10:
            clocks.step += step
        _progress_at(store, clocks, job.id, 1000.0 + i * 0.5, done=i, total=100)
        if i >= 3:
            assert store.get(job.id).rate == pytest.approx(2.0), i
    assert store.get(job.id).eta_s == pytest.approx(40.0)
    shown = store.samples(job.id)  # wall times for people: evenly spaced, ending now
    assert [b - a for (a, _), (b, _) in itertools.pairwise(shown)] == pytest.approx(
        [0.5] * (len(shown) - 1)
    )
    assert shown[-1][0] == pytest.approx(clock.wall())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.01, 100.0), st.integers(0, 10**6)), min_size=0, max_size=60),
    st.floats(0.0, 50.0),
)
def test_rate_is_finite_and_bounded(steps: list[tuple[float, int]], lag: float) -> None:
    """Any increasing clock and any counts: a rate that is None or finite, >= 0, and no more
    than the largest step seen between two samples divided by the shortest gap."""
    t, points = 0.0, []
    for gap, done in steps:
        t += gap
        points.append((t, done))
    rate = rate_from_samples(points, t + lag)
    if len(points) < 2:
        assert rate is None
        return
    assert rate is not None and math.isfinite(rate) and rate >= 0
    max_done = max(d for _, d in points)
    # Relative slack: a gap is measured as a difference of clock readings, whose rounding
    # (one ulp of the clock, ~1e-12 s at 6,000 s) makes a 0.01 s gap 0.00999999999999801.
    assert rate <= max_done / min(g for g, _ in steps[1:]) * (1 + 1e-9)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.1, 1000.0), st.integers(2, 200), st.floats(0.1, 5.0))
def test_constant_rate_property(rate: float, n: int, spacing: float) -> None:
    points = [(i * spacing, round(i * spacing * rate * 1000)) for i in range(n)]
    got = rate_from_samples(points, points[-1][0])
    assert got is not None
    assert got == pytest.approx(rate * 1000, rel=0.01, abs=1.0 / spacing)

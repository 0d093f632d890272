"""The solver poll schedule (emodal.captcha.schedule): 2captcha's own pace until anything is
learned, then a first poll at the learned solve time and short steps after a miss."""
from __future__ import annotations

import pytest

from emodal.captcha.schedule import MIN_STEP, PollPlan, PollSchedule


def test_nothing_learned_polls_at_the_interval_as_2captcha_asks() -> None:
    plan = PollSchedule(5).plan()
    assert plan == PollPlan(5, 5)
    assert [plan.wait(n) for n in range(3)] == [5, 5, 5]


def test_first_poll_follows_a_fast_solver_and_steps_are_short() -> None:
    schedule = PollSchedule(5)
    schedule.record(schedule.plan(), 5.0)   # a 2 s solve answered at the 5 s poll: sample 2.5
    plan = schedule.plan()
    assert plan.first == pytest.approx(2.5)
    assert plan.step == MIN_STEP            # a quarter of 2.5 s is below the floor
    assert plan.wait(0) == plan.first and plan.wait(1) == plan.wait(2) == MIN_STEP


def test_a_slow_solver_is_polled_every_interval_after_its_typical_time() -> None:
    schedule = PollSchedule(5)
    for _ in range(3):
        schedule.record(PollPlan(20, 5), 20.0)   # answered at the first poll, 20 s after submit
    plan = schedule.plan()
    assert plan.first == pytest.approx(17.5)      # pulled down by half a step: can follow a faster solver
    assert plan.step == 5                         # never faster than 2captcha's 5 s once slow


def test_estimate_moves_both_ways() -> None:
    schedule = PollSchedule(5, window=3)
    for _ in range(3):
        schedule.record(PollPlan(2, 1), 2.0)      # hits: each sample 1.5 s
    assert schedule.expected() == pytest.approx(1.5)
    for _ in range(3):
        schedule.record(PollPlan(1.5, 1), 3.5)    # the solver slowed: answered at the 3rd poll
    assert schedule.expected() == pytest.approx(3.0)


def test_median_ignores_one_odd_task() -> None:
    schedule = PollSchedule(5)
    for answered in (2.5, 2.5, 30.0):
        schedule.record(PollPlan(2.5, 1), answered)
    assert schedule.expected() == pytest.approx(2.0)


def test_first_poll_never_earlier_than_the_floor() -> None:
    schedule = PollSchedule(5)
    schedule.record(PollPlan(1, 1), 0.2)
    assert schedule.plan().first == MIN_STEP


def test_intervals_below_the_floor_are_kept() -> None:
    """Tests and local solvers configure tiny intervals: the schedule never waits longer than asked."""
    schedule = PollSchedule(0.05)
    schedule.record(schedule.plan(), 0.05)
    assert schedule.plan().first <= 0.05 and schedule.plan().step <= 0.05

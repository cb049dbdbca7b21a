"""app/openai_compat/idle.py: each wait for a provider's next chunk is cut at `idle_s`, on one timer a
stream; time between waits (a slow client) does not count, and a cancellation stays one."""

from __future__ import annotations

import asyncio

import pytest

from app.openai_compat.idle import IdleTimeout


async def test_a_wait_that_reaches_the_limit_raises_timeout_error() -> None:
    idle = IdleTimeout(0.05)
    never = asyncio.Event()
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(2), idle:  # the outer limit only ends a test that would hang
            await never.wait()
    assert 0.04 <= asyncio.get_running_loop().time() - started < 1.0
    idle.close()


async def test_only_time_spent_waiting_counts() -> None:
    idle = IdleTimeout(0.08)
    for _ in range(8):  # 8 x 0.03 s of waiting, longer than the limit in all
        async with idle:
            await asyncio.sleep(0.03)
        await asyncio.sleep(0.1)  # a slow client between chunks: not the provider's silence
    idle.close()


async def test_a_later_wait_is_cut_at_its_own_deadline_by_the_timer_an_earlier_one_armed() -> None:
    idle = IdleTimeout(0.1)
    async with idle:  # arms the timer for t + 0.1
        await asyncio.sleep(0.06)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with idle:  # when the timer fires this wait is 0.04 s old: re-armed, then cut at 0.1
            await asyncio.sleep(5)
    assert 0.09 <= loop.time() - started < 1.0
    idle.close()


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    idle = IdleTimeout(5)

    async def wait() -> None:
        async with idle:
            await asyncio.sleep(5)

    task = asyncio.create_task(wait())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    idle.close()
    assert idle._timer is None

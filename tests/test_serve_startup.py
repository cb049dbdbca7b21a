"""`llm-router serve` runs its start-up with the cyclic collector off; the lifespan turns it back on."""

from __future__ import annotations

import gc

import pytest

from app.cli import main
from app.config.settings import Settings
from app.main import YOUNG_COLLECTION_THRESHOLD
from tests.store.service import running


def test_the_collector_is_on_again_whenever_the_cli_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTER_MASTER_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2  # refused before serving
    assert gc.isenabled()
    with pytest.raises(SystemExit):
        main(["serve", "--port", "not-a-number"])
    assert gc.isenabled()


async def test_the_lifespan_freezes_start_up_then_turns_the_collector_on(
    settings: Settings, provider_keys: dict[str, str]
) -> None:
    before = gc.get_threshold()
    gc.disable()  # as `llm-router serve` leaves it
    try:
        async with running(settings):
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0
            # Young collections wait for far more objects than the write-behind queue holds.
            assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
            assert before[0] < YOUNG_COLLECTION_THRESHOLD
        assert gc.get_threshold() == before  # the process's own setting, back at shutdown
    finally:
        gc.enable()
        gc.set_threshold(*before)

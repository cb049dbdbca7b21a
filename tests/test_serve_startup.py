"""`llm-router serve` runs its start-up with the cyclic collector off; the lifespan turns it back on."""

from __future__ import annotations

import gc

import pytest

from app.cli import main
from app.config.settings import Settings
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
    gc.disable()  # as `llm-router serve` leaves it
    try:
        async with running(settings):
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0
    finally:
        gc.enable()

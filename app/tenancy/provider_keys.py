"""Reloading provider keys without a restart (SIGHUP or the admin call), and their state by fingerprint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.errors import ServiceUnavailable
from app.providers.keyring import reload_keys

if TYPE_CHECKING:
    from app.context import ServiceContext

log = logging.getLogger(__name__)


def reload_provider_keys(ctx: ServiceContext) -> dict[str, Any]:
    """Re-read the keys of every provider and re-derive which providers the router may choose."""
    if ctx.providers is None:
        raise ServiceUnavailable("the provider pool is not open", headers={"retry-after": "1"})
    counts = reload_keys(ctx.providers.adapters, os.environ)
    ctx.keyed_providers = ctx.providers.available()
    return {"providers": counts, "callable": sorted(ctx.keyed_providers)}


def provider_key_status(ctx: ServiceContext) -> dict[str, Any]:
    """Each provider's keys by fingerprint: usable, refused or rate limited (never the keys)."""
    if ctx.providers is None:
        raise ServiceUnavailable("the provider pool is not open", headers={"retry-after": "1"})
    adapters = sorted(ctx.providers.adapters.items())
    return {"providers": {name: adapter.keys.status() for name, adapter in adapters}}


def watch_sighup(ctx: ServiceContext) -> Callable[[], None]:
    """Reload the keys on SIGHUP; returns the function that stops watching (a no-op off the main thread)."""
    loop = asyncio.get_running_loop()

    def on_hangup() -> None:
        try:
            reload_provider_keys(ctx)
        except Exception as exc:  # a bad secrets file keeps the keys in use
            log.warning("SIGHUP: provider keys not reloaded: %s", exc)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    except (RuntimeError, ValueError, NotImplementedError):
        return lambda: None  # not the main thread (tests, embedded servers): the admin call still works

    def stop() -> None:
        with contextlib.suppress(RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGHUP)

    return stop

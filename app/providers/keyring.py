"""Several keys per provider, used in turn: a key refused (401/403) is set aside and alerted, a
rate-limited one (429) rests until its Retry-After, and the set reloads without a restart.

Where keys come from is configuration, never code: `ROUTER_SECRETS_FILE` (a YAML/JSON mapping of
key variable to a list or comma-separated string, or a directory with one file per variable;
with `environments: {name: {...}}` sections picked by `ROUTER_ENV`), else the key variable itself
(`OPENAI_API_KEY=k1,k2`), read as `<ROUTER_ENV>_<VAR>` when ROUTER_ENV is set so that each
environment has its own key set. Logs name a key only by its fingerprint.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.logs import register_secret

log = logging.getLogger(__name__)

SET_ASIDE_S = 300.0          # RELIABILITY.md: a bad key is ejected for 300 s
REST_DEFAULT_S = 5.0         # a 429 without Retry-After
REST_MIN_S, REST_MAX_S = 1.0, 60.0


def fingerprint(key: str) -> str:
    """What logs and the admin API show of a key: 8 hex characters of its SHA-256."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def split_keys(raw: object) -> list[str]:
    """Keys from a list or a comma/newline-separated string, blanks and duplicates dropped, in order."""
    text = "" if raw is None or isinstance(raw, list | tuple) else str(raw)
    items: Iterable[object] = raw if isinstance(raw, list | tuple) else text.replace("\n", ",").split(",")
    out: list[str] = []
    for item in items:
        key = str(item).strip()
        if key and key not in out:
            out.append(key)
    return out


def read_secrets(path: Path, env_name: str | None) -> dict[str, list[str]]:
    """Key lists by variable from a secrets file or directory (the ROUTER_ENV section if it has them)."""
    if path.is_dir():
        return {p.name: split_keys(p.read_text(encoding="utf-8")) for p in sorted(path.iterdir())
                if p.is_file() and not p.name.startswith(".")}
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of key variables to keys")
    sections = data.get("environments")
    if isinstance(sections, dict):
        if env_name is None or env_name not in sections:
            raise ValueError(f"{path}: ROUTER_ENV must name one of its environments {sorted(sections)}")
        data = sections[env_name] or {}
    return {str(var): split_keys(value) for var, value in data.items() if var != "environments"}


def load_keys(var: str, environ: Mapping[str, str]) -> list[str]:
    """The keys configured for the key variable `var` (see the module docstring for the sources)."""
    env_name = environ.get("ROUTER_ENV") or None
    secrets_file = environ.get("ROUTER_SECRETS_FILE")
    if secrets_file:
        found = read_secrets(Path(secrets_file), env_name).get(var)
        if found:
            return found
    name = f"{env_name.upper()}_{var}" if env_name else var
    return split_keys(environ.get(name, ""))


@dataclass
class KeyState:
    key: str
    fingerprint: str
    blocked_until: float = 0.0
    reason: str | None = None


class KeyRing:
    """One provider's keys, rotated after every call; blocked ones skipped until their time is up."""

    def __init__(self, provider: str, keys: Iterable[str], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self.clock = clock
        self._states = [KeyState(k, fingerprint(k)) for k in keys]
        self._next = 0
        for state in self._states:
            register_secret(state.key)  # log lines are scrubbed of it, should one ever carry it

    def __bool__(self) -> bool:
        return bool(self._states)

    def __len__(self) -> int:
        return len(self._states)

    def current(self) -> str | None:
        """The key the next call uses: the next usable one in turn, else the one free soonest."""
        if not self._states:
            return None
        now = self.clock()
        n = len(self._states)
        for step in range(n):
            state = self._states[(self._next + step) % n]
            if state.blocked_until <= now:
                self._next = (self._next + step) % n
                return state.key
        return min(self._states, key=lambda s: s.blocked_until).key

    def advance(self) -> None:
        """A call finished: the next one takes the next key."""
        if len(self._states) > 1:
            self._next = (self._next + 1) % len(self._states)

    def refused(self, sent: Iterable[str], status: int | None) -> None:
        """The key in these header values was refused (401/403): set it aside and alert."""
        state = self._state_in(sent)
        if state is None:
            return
        if state.blocked_until < self.clock() + SET_ASIDE_S - 1:
            log.warning("ALERT provider %s refused key %s (HTTP %s): set aside for %d s; %d of %d keys "
                        "usable", self.provider, state.fingerprint, status, SET_ASIDE_S, self.usable() - 1,
                        len(self))
        self._block(state, SET_ASIDE_S, f"refused (HTTP {status})")

    def rate_limited(self, sent: Iterable[str], retry_after_s: float | None) -> None:
        """The key in these header values got a 429: it rests until its Retry-After."""
        state = self._state_in(sent)
        if state is None:
            return
        rest = REST_DEFAULT_S if retry_after_s is None else min(max(retry_after_s, REST_MIN_S), REST_MAX_S)
        log.info("provider %s: key %s rate limited, resting %.1f s", self.provider, state.fingerprint, rest)
        self._block(state, rest, "rate limited")

    def usable(self) -> int:
        now = self.clock()
        return sum(1 for s in self._states if s.blocked_until <= now)

    def replace(self, keys: Iterable[str]) -> None:
        """A reload: new keys start usable, keys kept keep their state."""
        old = {s.key: s for s in self._states}
        self._states = [old.get(k) or KeyState(k, fingerprint(k)) for k in keys]
        self._next = 0
        for state in self._states:
            register_secret(state.key)

    def status(self) -> list[dict[str, object]]:
        """Each key by fingerprint with its state (never the key)."""
        now = self.clock()
        return [{"fingerprint": s.fingerprint,
                 "state": "usable" if s.blocked_until <= now else (s.reason or "blocked"),
                 "usable_in_s": max(0.0, round(s.blocked_until - now, 1))} for s in self._states]

    def _state_in(self, sent: Iterable[str]) -> KeyState | None:
        values = list(sent)
        return next((s for s in self._states if any(s.key in v for v in values)), None)

    def _block(self, state: KeyState, seconds: float, reason: str) -> None:
        state.blocked_until = max(state.blocked_until, self.clock() + seconds)
        state.reason = reason
        if self._states[self._next % len(self._states)] is state:
            self.advance()


def reload_keys(adapters: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, int]:
    """Re-read every provider's keys (SIGHUP or the admin call); the number of keys each now has.

    A bad secrets file changes nothing: the error is raised before any ring is touched.
    """
    fresh = {name: load_keys(adapter.spec.api_key_env, environ) for name, adapter in adapters.items()}
    for name, keys in fresh.items():
        adapters[name].keys.replace(keys)
    log.warning("provider keys reloaded: %s", ", ".join(f"{n}={len(k)}" for n, k in sorted(fresh.items())))
    return {name: len(keys) for name, keys in fresh.items()}

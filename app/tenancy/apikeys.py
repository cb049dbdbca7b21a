"""API keys: `llr_<prefix>_<secret>`, shown once, stored as a keyed SHA-256, checked in constant time.

The prefix is a random, non-secret lookup id (stored in clear, unique); the secret is 256 random
bits. Keys that long need no slow password hash: an HMAC-SHA256 under a server-side pepper makes
a stolen table useless without the pepper, and costs about a microsecond on the request path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache

KEY_PREFIX = "llr"
PREFIX_BYTES = 6            # 12 hex characters: the public lookup id
SECRET_BYTES = 32           # 256 bits
HASH_SCHEME = "hmac-sha256"
DEFAULT_PEPPER = b"llm-router/api-key/v1"
MAX_PRESENTED_CHARS = 256


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: `plaintext` is shown to its owner once and never stored."""

    plaintext: str
    prefix: str
    key_hash: str


def digest(presented: str, pepper: bytes) -> bytes:
    """The keyed hash of a presented credential (also the auth cache's key, so no plaintext is kept).

    A copy of an HMAC already keyed with the pepper, not `hmac.digest`: the one-shot lets go of the
    GIL around its 2 us hash, and py-spy put ~5 % of a busy service's samples there, most likely
    waiting to take it back from the store's driver thread. Short updates and the digest keep it.
    """
    mac = _keyed(pepper).copy()
    mac.update(presented.encode("utf-8", "surrogatepass"))
    return mac.digest()


@lru_cache(maxsize=8)
def _keyed(pepper: bytes) -> hmac.HMAC:
    return hmac.new(pepper, digestmod="sha256")


def stored_hash(raw_digest: bytes) -> str:
    return f"{HASH_SCHEME}${raw_digest.hex()}"


def generate(pepper: bytes) -> NewKey:
    """A fresh key with its lookup prefix and stored hash."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return NewKey(plaintext=plaintext, prefix=prefix, key_hash=stored_hash(digest(plaintext, pepper)))


def prefix_of(presented: str) -> str | None:
    """The lookup prefix of a well-formed key, or None (then no database lookup is needed)."""
    if len(presented) > MAX_PRESENTED_CHARS:
        return None
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != PREFIX_BYTES * 2:
        return None
    prefix = parts[1]
    if any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


def matches(raw_digest: bytes, key_hash: str) -> bool:
    """Constant-time comparison of a presented key's digest with a stored hash."""
    return hmac.compare_digest(stored_hash(raw_digest), key_hash)


def fingerprint(secret: str) -> str:
    """A short, non-reversible tag of a secret for logs ("sha256:1a2b3c4d"), never the secret."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:8]

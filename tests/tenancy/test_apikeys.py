"""Key format, hashing and comparison."""

from __future__ import annotations

import hmac

from app.tenancy import apikeys

PEPPER = b"test-pepper"


def test_a_new_key_is_random_long_and_stored_only_as_its_keyed_hash() -> None:
    keys = [apikeys.generate(PEPPER) for _ in range(200)]
    assert len({k.plaintext for k in keys}) == 200 and len({k.prefix for k in keys}) == 200
    for key in keys[:20]:
        assert key.plaintext.startswith(f"llr_{key.prefix}_")
        assert len(key.plaintext) >= 4 + 12 + 1 + 43
        assert key.plaintext not in key.key_hash and key.plaintext.split("_", 2)[2] not in key.key_hash
        assert apikeys.prefix_of(key.plaintext) == key.prefix
        assert apikeys.matches(apikeys.digest(key.plaintext, PEPPER), key.key_hash)


def test_the_hash_depends_on_the_pepper_and_on_every_character() -> None:
    key = apikeys.generate(PEPPER)
    assert not apikeys.matches(apikeys.digest(key.plaintext, b"other-pepper"), key.key_hash)
    flipped = key.plaintext[:-1] + ("A" if key.plaintext[-1] != "A" else "B")
    assert not apikeys.matches(apikeys.digest(flipped, PEPPER), key.key_hash)


def test_the_keyed_hash_is_hmac_sha256_so_stored_hashes_still_match() -> None:
    # RFC 4231, test case 2: key "Jefe".
    assert apikeys.digest("what do ya want for nothing?", b"Jefe").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    # The prepared HMAC is copied, never updated: calls in any order, under any pepper, agree.
    first = apikeys.digest("llr_a", PEPPER)
    assert apikeys.digest("llr_b", b"other") != apikeys.digest("llr_b", PEPPER)
    assert apikeys.digest("llr_a", PEPPER) == first == hmac.digest(PEPPER, b"llr_a", "sha256")


def test_malformed_credentials_have_no_prefix_so_no_lookup() -> None:
    for bad in ["", "llr_", "llr_abc_def", "sk-abc", "llr_ABCDEF123456_x", "llr_0123456789ab", "x" * 300,
                "llr_0123456789ag_secret", "foo_0123456789ab_secret"]:
        assert apikeys.prefix_of(bad) is None, bad
    assert apikeys.prefix_of("llr_0123456789ab_secret") == "0123456789ab"


def test_a_fingerprint_names_a_secret_without_revealing_it() -> None:
    fp = apikeys.fingerprint("sk-canary-openai-0123456789")
    assert fp.startswith("sha256:") and len(fp) == 15
    assert "canary" not in fp and fp == apikeys.fingerprint("sk-canary-openai-0123456789")
    assert fp != apikeys.fingerprint("sk-canary-openai-0123456780")

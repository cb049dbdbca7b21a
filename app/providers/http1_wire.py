"""What the lean HTTP/1.1 client (app/providers/http1.py) writes and decodes: where a URL's
connections go, a POST's bytes, and a body per its Content-Encoding."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from app.providers.errors import ErrorClass, ProviderError

DEFAULT_HEADERS = (("accept", "*/*"), ("accept-encoding", "gzip, deflate"), ("user-agent", "llm-router"))
DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a URL's connections go, and what its request line and Host header say."""

    scheme: str
    host: str
    port: int
    host_header: str
    target: str


def origin_of(url: str) -> Origin:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise httpx.UnsupportedProtocol(f"not an http(s) URL: {url!r}")
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    host_header = parts.hostname if port == default else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # an IPv6 literal keeps its brackets in the Host header
        host_header = f"[{parts.hostname}]" if port == default else f"[{parts.hostname}]:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Origin(parts.scheme, parts.hostname, port, host_header, target)


def request_bytes(origin: Origin, headers: Mapping[str, str], content: bytes) -> bytes:
    """A POST's request line, headers (ours, then the defaults not given) and body."""
    lines = [f"POST {origin.target} HTTP/1.1", f"host: {origin.host_header}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    given = {name.lower() for name in headers}
    lines += [f"{name}: {value}" for name, value in DEFAULT_HEADERS if name not in given]
    lines.append(f"content-length: {len(content)}\r\n\r\n")
    return "\r\n".join(lines).encode("latin-1") + content


def decoded(body: bytes, encoding: str, cap: int) -> bytes:
    """The body per Content-Encoding, refusing more than `cap` bytes once decoded."""
    wbits = DECODERS.get(encoding)
    if wbits is None:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, f"unsupported content-encoding {encoding!r}")
    try:
        decoder = zlib.decompressobj(wbits)
        out = decoder.decompress(body, cap + 1)
        if encoding == "deflate" and not out and body:  # raw deflate without the zlib header
            decoder = zlib.decompressobj(-zlib.MAX_WBITS)
            out = decoder.decompress(body, cap + 1)
    except zlib.error as exc:
        raise httpx.DecodingError(f"cannot decode the {encoding} body: {exc}") from exc
    if len(out) > cap or decoder.unconsumed_tail:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, f"response over {cap} bytes")
    return out

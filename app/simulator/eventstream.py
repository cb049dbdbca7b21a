"""The binary application/vnd.amazon.eventstream framing that Bedrock ConverseStream answers in.

A message: total length (4 bytes), headers length (4), CRC32 of those 8 bytes (4), the headers
(name length (1), name, value type 7 = string (1), value length (2), value), the payload, and
the CRC32 of everything before it (4). All integers big-endian.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + struct.pack(">BH", _STRING, len(raw_value)) + raw_value


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with string headers."""
    header_bytes = b"".join(_header(k, v) for k, v in headers.items())
    prelude = _PRELUDE.pack(12 + len(header_bytes) + len(payload) + 4, len(header_bytes))
    message = prelude + _CRC.pack(zlib.crc32(prelude)) + header_bytes + payload
    return message + _CRC.pack(zlib.crc32(message))


def encode_event(event_type: str, payload: bytes) -> bytes:
    """An event message as AWS JSON services send them."""
    return encode_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}, payload
    )


def decode_messages(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Split a buffer into (headers, payload) messages, checking both CRCs (for tests and probes)."""
    out: list[tuple[dict[str, str], bytes]] = []
    offset = 0
    while offset < len(data):
        total, headers_len = _PRELUDE.unpack_from(data, offset)
        (prelude_crc,) = _CRC.unpack_from(data, offset + 8)
        if zlib.crc32(data[offset : offset + 8]) != prelude_crc:
            raise ValueError(f"bad prelude CRC at byte {offset}")
        end = offset + total
        (message_crc,) = _CRC.unpack_from(data, end - 4)
        if zlib.crc32(data[offset : end - 4]) != message_crc:
            raise ValueError(f"bad message CRC at byte {offset}")
        headers: dict[str, str] = {}
        pos, stop = offset + 12, offset + 12 + headers_len
        while pos < stop:
            name_len = data[pos]
            name = data[pos + 1 : pos + 1 + name_len].decode()
            pos += 1 + name_len
            kind, value_len = struct.unpack_from(">BH", data, pos)
            if kind != _STRING:
                raise ValueError(f"header {name!r} has type {kind}; only strings are supported")
            headers[name] = data[pos + 3 : pos + 3 + value_len].decode()
            pos += 3 + value_len
        out.append((headers, data[stop : end - 4]))
        offset = end
    return out

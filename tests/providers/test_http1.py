"""The lean HTTP/1.1 client (app/providers/http1.py) against real local servers: kept-alive
connections, servers that close, hang or answer oddly, the pool's limit, cancellation."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.providers.errors import ErrorClass, ProviderError
from app.providers.http1 import Http1Pool, origin_of
from tests.providers.loopback import listen

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class Server:
    """A raw TCP server: `answer` decides what each request gets; connections are counted."""

    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = self.answer(request)
                if reply is None:  # hang
                    await asyncio.sleep(3600)
                writer.write(reply)
                await writer.drain()
                if b"connection: close" in reply.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Serve = Callable[[Callable[[bytes], bytes | None]], Awaitable[Server]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(answer: Callable[[bytes], bytes | None]) -> Server:
        server = Server(answer)
        server.url = await listen(server.handle, servers) + "?x=1"
        return server

    yield start
    for listening in servers:
        listening.close()


def pool(limit: int = 8, keepalive_s: float | None = 30.0) -> Http1Pool:
    return Http1Pool(ssl_context=None, limit=limit, keepalive_s=keepalive_s)


async def post(p: Http1Pool, url: str, *, read_s: float = 5.0, pool_s: float = 5.0,
               cap: int = 1 << 20) -> tuple[int, bytes]:
    status, _, body = await p.post(url, {"authorization": "Bearer k", "content-type": "application/json"},
                                   b'{"a": 1}', connect_s=5.0, pool_s=pool_s, read_s=read_s, cap=cap)
    return status, body


async def test_requests_reuse_one_kept_alive_connection_and_say_what_they_send(serve: Serve) -> None:
    server = await serve(lambda _: OK)
    p = pool()
    for _ in range(3):
        assert await post(p, server.url) == (200, b"{}")
    assert server.connections == 1
    first = server.requests[0].decode()
    assert first.startswith("POST /v1/chat/completions?x=1 HTTP/1.1\r\n")
    assert "host: 127.0.0.1:" in first and "authorization: Bearer k" in first
    assert first.endswith('content-length: 8\r\n\r\n{"a": 1}')
    p.close()


async def test_a_connection_the_server_closed_is_not_reused(serve: Serve) -> None:
    server = await serve(lambda _: OK.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n"))
    p = pool()
    for _ in range(2):
        assert await post(p, server.url) == (200, b"{}")
    assert server.connections == 2
    p.close()


async def test_an_idle_connection_closed_by_the_server_is_replaced(serve: Serve) -> None:
    server = await serve(lambda _: OK)
    p = pool()
    assert await post(p, server.url) == (200, b"{}")
    for conn in [c for idle in p.idle.values() for c in idle]:
        assert conn.transport is not None
        conn.transport.abort()  # as a peer's keep-alive timeout would, seen from this side
    await asyncio.sleep(0)
    assert await post(p, server.url) == (200, b"{}")
    assert server.connections == 2
    p.close()


async def test_bodies_chunked_or_ended_by_the_close_read_whole(serve: Serve) -> None:
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    server = await serve(lambda _: chunked)
    p = pool()
    assert await post(p, server.url) == (200, b"abcde")
    until_close = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end"
    other = await serve(lambda _: until_close)
    assert await post(p, other.url) == (200, b"until the end")
    p.close()


async def test_deflate_is_decoded_and_an_unknown_encoding_refused(serve: Serve) -> None:
    body = zlib.compress(b'{"ok": true}')
    server = await serve(lambda _: b"HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\ncontent-length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
    p = pool()
    assert await post(p, server.url) == (200, b'{"ok": true}')
    odd = await serve(lambda _: b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 2\r\n\r\nxx")
    with pytest.raises(ProviderError) as caught:
        await post(p, odd.url)
    assert caught.value.error_class is ErrorClass.INVALID_RESPONSE
    p.close()


async def test_a_silent_server_is_a_read_timeout_and_its_connection_dropped(serve: Serve) -> None:
    server = await serve(lambda _: None)
    p = pool()
    with pytest.raises(httpx.ReadTimeout):
        await post(p, server.url, read_s=0.2)
    assert not p.busy and not any(p.idle.values())
    p.close()


async def test_a_garbled_answer_is_a_protocol_error(serve: Serve) -> None:
    server = await serve(lambda _: b"NOT HTTP AT ALL\r\n\r\n")
    p = pool()
    with pytest.raises(httpx.RemoteProtocolError):
        await post(p, server.url)
    p.close()


async def test_callers_beyond_the_limit_wait_for_a_connection_or_time_out(serve: Serve) -> None:
    answers = iter([None, OK, OK])  # the first request hangs until cancelled
    server = await serve(lambda _: next(answers))
    p = pool(limit=1)
    first = asyncio.create_task(post(p, server.url))
    await asyncio.sleep(0.05)
    with pytest.raises(httpx.PoolTimeout):
        await post(p, server.url, pool_s=0.1)
    waiting = asyncio.create_task(post(p, server.url))
    await asyncio.sleep(0.05)
    first.cancel()  # frees the one slot: the waiting caller gets a new connection
    assert await waiting == (200, b"{}")
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(p.busy) == 0
    p.close()


async def test_a_cancelled_call_drops_its_connection(serve: Serve) -> None:
    answers = iter([None, OK])
    server = await serve(lambda _: next(answers))
    p = pool()
    call = asyncio.create_task(post(p, server.url))
    await asyncio.sleep(0.05)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert not p.busy and not any(p.idle.values())
    assert await post(p, server.url) == (200, b"{}")
    assert server.connections == 2
    p.close()


async def test_a_header_with_a_line_break_is_refused_before_sending(serve: Serve) -> None:
    server = await serve(lambda _: OK)
    p = pool()
    with pytest.raises(ValueError, match="line break"):
        await p.post(server.url, {"x-key": "a\r\nx-injected: 1"}, b"", connect_s=1, pool_s=1, read_s=1,
                     cap=10)
    assert server.requests == []
    p.close()


def test_origins_keep_ports_queries_and_ipv6_brackets() -> None:
    assert origin_of("https://api.example.com/v1/chat").host_header == "api.example.com"
    assert origin_of("https://api.example.com:8443/v1").host_header == "api.example.com:8443"
    assert origin_of("http://[::1]:8080/a?b=c").host_header == "[::1]:8080"
    assert origin_of("http://[::1]:8080/a?b=c").target == "/a?b=c"
    with pytest.raises(httpx.UnsupportedProtocol):
        origin_of("ftp://example.com/x")


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made on the spot (cryptography comes with google-auth)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_https_verifies_the_server_with_the_clients_context(tmp_path: Path) -> None:
    cert_path, key_path = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    server = Server(lambda _: OK)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_ctx)
    url = f"https://127.0.0.1:{listening.sockets[0].getsockname()[1]}/v1/chat/completions"
    trusting = Http1Pool(ssl_context=ssl.create_default_context(cafile=str(cert_path)), limit=4,
                         keepalive_s=30)
    try:
        for _ in range(2):
            assert await post(trusting, url) == (200, b"{}")
        assert server.connections == 1
        assert server.requests[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
        untrusting = Http1Pool(ssl_context=ssl.create_default_context(), limit=4, keepalive_s=30)
        with pytest.raises(httpx.ConnectError):
            await post(untrusting, url)
        untrusting.close()
    finally:
        trusting.close()
        listening.close()


async def test_a_context_source_is_called_at_the_first_tls_connection_only(tmp_path: Path) -> None:
    cert_path, key_path = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    server = Server(lambda _: OK)
    plain = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    tls = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_ctx)
    built: list[ssl.SSLContext] = []

    def source() -> ssl.SSLContext:
        built.append(ssl.create_default_context(cafile=str(cert_path)))
        return built[-1]

    pool = Http1Pool(ssl_context=source, limit=4, keepalive_s=30)
    try:
        assert await post(pool, f"http://127.0.0.1:{plain.sockets[0].getsockname()[1]}/x") == (200, b"{}")
        assert built == []  # plain HTTP never needs it
        url = f"https://127.0.0.1:{tls.sockets[0].getsockname()[1]}/x"
        for _ in range(2):
            assert await post(pool, url) == (200, b"{}")
        assert len(built) == 1 and pool.ssl_context is built[0]
    finally:
        pool.close()
        plain.close()
        tls.close()

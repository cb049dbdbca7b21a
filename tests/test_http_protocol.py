"""app/api/http_protocol.py: a response's head waits for its body and both go out in one write; a
stream's chunks written in one step of the loop go out in one write; the order of bytes and closes
is kept; and uvicorn serves whole and streamed responses through it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.api.http_protocol import HeadJoiningTransport, HttpToolsProtocol, ProviderHttpToolsProtocol
from app.cli import serve_app
from app.simulator.app import create_simulator_app
from app.simulator.server import _config as simulator_config

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"
STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.events.append(bytes(data))

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.events.append("abort")

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


async def test_a_head_and_the_body_written_right_after_it_go_out_together() -> None:
    real = Recorder()
    transport = HeadJoiningTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    assert real.events == []
    transport.write(b"{}")
    assert real.events == [HEAD + b"{}"]
    await asyncio.sleep(0)  # the scheduled release finds nothing held
    assert real.events == [HEAD + b"{}"]
    transport.write(b"not a head")  # anything else goes straight out
    assert real.events[-1] == b"not a head"
    assert transport.get_extra_info("peername") == "extra:peername"


async def test_a_head_alone_goes_out_when_the_loop_comes_round_and_before_a_close() -> None:
    real = Recorder()
    transport = HeadJoiningTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert real.events == [HEAD]  # a stream whose first chunk is not ready yet
    transport.write(b"chunk")
    transport.write(HEAD)
    transport.close()
    assert real.events == [HEAD, b"chunk", HEAD, "close"]
    transport.write(HEAD)  # held on a closed transport: nothing more goes out
    await asyncio.sleep(0)
    assert real.events == [HEAD, b"chunk", HEAD, "close"]
    real = Recorder()
    transport = HeadJoiningTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.abort()  # a head written just before an abort is handed on first, as it would have been
    await asyncio.sleep(0)
    assert real.events == [HEAD, "abort"]


async def test_a_streams_first_chunk_goes_out_at_once_and_later_ones_of_a_step_together() -> None:
    real = Recorder()
    transport = HeadJoiningTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(STREAM_HEAD)
    transport.write(b"5\r\nfirst\r\n")  # the first token: not held back by what follows it
    assert real.events == [STREAM_HEAD + b"5\r\nfirst\r\n"]
    transport.write(b"6\r\nsecond\r\n")
    transport.write(b"5\r\nthird\r\n")
    assert len(real.events) == 1  # the step that wrote them has not ended
    await asyncio.sleep(0)
    assert real.events[1:] == [b"6\r\nsecond\r\n5\r\nthird\r\n"]
    transport.write(b"6\r\nfourth\r\n")  # a later step: a lone chunk, out when that step ends
    await asyncio.sleep(0)
    transport.write(b"0\r\n\r\n")
    transport.write(HEAD)  # the next answer on the connection, a whole one
    transport.write(b"{}")  # its body takes everything held with it, in order, at once
    assert real.events[2:] == [b"6\r\nfourth\r\n", b"0\r\n\r\n" + HEAD + b"{}"]
    transport.write(b"not a head")  # after a whole answer, straight out again
    assert real.events[-1] == b"not a head"
    transport.write(STREAM_HEAD)
    await asyncio.sleep(0)  # a stream whose first chunk is not ready: its head goes out alone
    transport.write(b"5\r\nfirst\r\n")  # and that chunk, when it comes, at once
    transport.write(b"6\r\nsecond\r\n")
    transport.close()  # what a stream holds goes out before the close
    assert real.events[-4:] == [STREAM_HEAD, b"5\r\nfirst\r\n", b"6\r\nsecond\r\n", "close"]


async def test_the_simulators_protocol_writes_each_stream_chunk_as_it_comes() -> None:
    real = Recorder()
    transport = HeadJoiningTransport(real, asyncio.get_running_loop(),  # type: ignore[arg-type]
                                     join_streams=ProviderHttpToolsProtocol.join_streams)
    transport.write(STREAM_HEAD)
    transport.write(b"5\r\nfirst\r\n")
    transport.write(b"6\r\nsecond\r\n")
    assert real.events == [STREAM_HEAD + b"5\r\nfirst\r\n", b"6\r\nsecond\r\n"]
    assert HttpToolsProtocol.join_streams and not ProviderHttpToolsProtocol.join_streams
    config = simulator_config(create_simulator_app(), "127.0.0.1", 1, "warning")
    assert config.http is ProviderHttpToolsProtocol


async def _numbers() -> AsyncIterator[bytes]:
    for i in range(3):
        await asyncio.sleep(0.01)
        yield f"data: {i}\n\n".encode()


async def whole(request: Request) -> Response:
    return JSONResponse({"echo": (await request.body()).decode()})


async def streamed(request: Request) -> Response:
    return StreamingResponse(_numbers(), media_type="text/event-stream")


async def test_uvicorn_serves_whole_streamed_and_closing_responses_through_it() -> None:
    app = Starlette(routes=[Route("/whole", whole, methods=["POST"]), Route("/stream", streamed)])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=HttpToolsProtocol,
                                           log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for i in range(3):  # on one kept-alive connection
                answer = await client.post("/whole", content=f"n{i}")
                assert answer.status_code == 200 and answer.json() == {"echo": f"n{i}"}
            connections = server.server_state.connections
            assert connections and all(isinstance(c.transport, HeadJoiningTransport)  # type: ignore[attr-defined]
                                       for c in connections)
            async with client.stream("GET", "/stream") as resp:
                chunks = [chunk async for chunk in resp.aiter_text()]
            assert resp.status_code == 200 and "".join(chunks) == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
            closing = await client.post("/whole", content="last", headers={"connection": "close"})
            assert closing.json() == {"echo": "last"} and closing.headers["connection"] == "close"
    finally:
        server.should_exit = True
        await serving


def test_llm_router_serve_runs_uvicorn_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    configs: list[uvicorn.Config] = []

    class Server:
        started = True

        def __init__(self, config: uvicorn.Config) -> None:
            configs.append(config)

        def run(self, sockets: list[socket.socket] | None = None) -> None:
            ran.append(sockets)

    ran: list[list[socket.socket] | None] = []
    monkeypatch.setattr(uvicorn, "Server", Server)
    serve_app(host="127.0.0.1", port=1, workers=1, log_level="warning")
    (config,) = configs
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol
    assert ran == [None]  # uvicorn binds the port itself unless given sockets (--reuse-port)
    with socket.socket() as bound:
        serve_app(host="127.0.0.1", port=1, workers=1, log_level="warning", sockets=[bound])
        assert ran[-1] == [bound]

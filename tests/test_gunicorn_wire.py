"""gunicorn's answers leave in one write (app/gunicorn_wire.py), seen on a real socket pair.

A SOCK_SEQPACKET socket keeps each `sendall` as its own message, so what the worker wrote in
one call and what in two is visible to the reading end.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator

import pytest
from gunicorn import http
from gunicorn.config import Config
from gunicorn.http import wsgi

from app import gunicorn_wire


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(server end, client end) of a connected socket pair that keeps message boundaries."""
    gunicorn_wire.install()  # as deploy/gunicorn.conf.py does before the workers start
    server, client = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    yield server, client
    server.close()
    client.close()


def messages(client: socket.socket) -> list[bytes]:
    """Every message the server end wrote, in order (all written before this reads)."""
    client.setblocking(False)
    found = []
    while True:
        try:
            found.append(client.recv(1 << 20))
        except BlockingIOError:
            return found


def test_headers_and_body_leave_in_one_write(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    client.send(b"POST /en/c/m/progress HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    req = next(http.get_parser(Config(), server, ("127.0.0.1", 0)))
    response, _ = wsgi.create(req, server, ("127.0.0.1", 0), ("127.0.0.1", 1), Config())
    assert isinstance(response, gunicorn_wire.OneWriteResponse)
    response.start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")]
    )
    response.write(b'{"read":[]}')
    response.close()
    sent = messages(client)
    assert len(sent) == 1
    assert sent[0].startswith(b"HTTP/1.1 200 OK\r\n") and sent[0].endswith(b'\r\n\r\n{"read":[]}')


def test_an_answer_without_body_still_goes_out(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    client.send(b"GET /static/x.css HTTP/1.1\r\nHost: t\r\n\r\n")
    req = next(http.get_parser(Config(), server, ("127.0.0.1", 0)))
    response, _ = wsgi.create(req, server, ("127.0.0.1", 0), ("127.0.0.1", 1), Config())
    response.start_response("304 Not Modified", [("ETag", '"abc"')])
    response.close()
    sent = messages(client)
    assert len(sent) == 1 and sent[0].startswith(b"HTTP/1.1 304 Not Modified\r\n")
    assert sent[0].endswith(b"\r\n\r\n")


def test_a_file_body_follows_its_headers(pair: tuple[socket.socket, socket.socket]) -> None:
    # A file goes out with sendfile(2): the headers first, then the file, both complete.
    server, client = pair
    client.send(b"GET /en/c/m.pdf HTTP/1.1\r\nHost: t\r\n\r\n")
    req = next(http.get_parser(Config(), server, ("127.0.0.1", 0)))
    response, _ = wsgi.create(req, server, ("127.0.0.1", 0), ("127.0.0.1", 1), Config())
    body = b"%PDF-1.7 " + b"x" * 5000
    response.start_response(
        "200 OK", [("Content-Type", "application/pdf"), ("Content-Length", str(len(body)))]
    )
    with tempfile.TemporaryFile() as handle:
        handle.write(body)
        handle.seek(0)
        response.write_file(wsgi.FileWrapper(handle))
    response.close()
    sent = b"".join(messages(client))
    head, _, got = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and got == body

"""gunicorn sends a response's headers together with the first bytes of its body.

gunicorn writes the status line and headers with one `sendall` and the body with the next.
Between the two, a threaded worker may wait for the GIL for milliseconds. If the server dies
in that moment, nginx has already passed the headers on to the browser and cannot send the
request to another app server: the learner gets a cut-off answer (`tests/test_cluster.py`
killed a server this way about one run in five). Holding the headers until the body's first
bytes go out makes a small answer (every page, beacon and quiz answer) one write: either
the whole of it reached nginx or none of it did, and nginx retries the request elsewhere.

`install()` is called by deploy/gunicorn.conf.py before the workers start.
"""

from __future__ import annotations

from typing import Any

from gunicorn.http import wsgi


class _HeldHeaders:
    """A socket whose first `sendall` (a response's headers) waits for the next one."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._first = True
        self._held: bytes | None = None

    def sendall(self, data: bytes) -> None:
        """Hold the headers; send them with the body's first bytes."""
        if self._first:
            self._first = False
            self._held = bytes(data)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._sock.sendall(data)

    def sendfile(self, *args: Any, **kwargs: Any) -> Any:
        """A file body (os.sendfile) cannot be joined to the headers: send them first."""
        self.flush()
        return self._sock.sendfile(*args, **kwargs)

    def flush(self) -> None:
        """Send headers still held (an answer with no body: 204, 304, HEAD)."""
        if self._held is not None:
            held, self._held = self._held, None
            self._sock.sendall(held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class OneWriteResponse(wsgi.Response):
    """gunicorn's HTTP/1 response, with its headers held for the first body bytes."""

    def __init__(self, req: Any, sock: Any, cfg: Any, *args: Any) -> None:
        super().__init__(req, _HeldHeaders(sock), cfg, *args)

    def close(self) -> None:
        """End the response: whatever is still held goes out now."""
        super().close()
        self.sock.flush()


def install() -> None:
    """Make gunicorn's workers build every HTTP/1 response as a `OneWriteResponse`."""
    wsgi.Response = OneWriteResponse

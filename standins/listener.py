"""A loopback TCP listener that counts the connections it accepts and answers nothing.

It stands in for an internal service (a database, a metadata endpoint) that a hostile
URL tries to reach: a test asserts `connections == 0`. One port, bound on every given
loopback address where the host has it (127.0.0.1, 127.0.0.2, ::1).

    with Listener(["127.0.0.1", "::1"]) as internal:
        internal.port, internal.connections, internal.bound
"""

from __future__ import annotations

import selectors
import socket
import threading


class Listener:
    def __init__(self, addresses: list[str] | tuple[str, ...] = ("127.0.0.1",), port: int = 0):
        self.connections = 0
        self.bound: list[str] = []
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self.port = port
        for address in addresses:
            self._bind(address)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _bind(self, address: str) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, self.port))
        except OSError:
            sock.close()  # no such address on this host (IPv6 disabled, say)
            return
        sock.listen(16)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._sockets.append(sock)
        self.bound.append(address)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            for sock in self._sockets:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    try:
                        conn, _peer = key.fileobj.accept()  # type: ignore[union-attr]
                    except BlockingIOError:
                        continue
                    self.connections += 1
                    conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for sock in self._sockets:
            sock.close()

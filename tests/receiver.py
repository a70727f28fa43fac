"""A local HTTP receiver for notification tests: what a json:// Apprise URL posts lands in ``messages``."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Stdlib http.server in a thread. ``status`` is what it answers; ``delay_s`` how long it stalls first."""

    def __init__(self, status: int = 200, delay_s: float = 0.0) -> None:
        self.messages: list[dict[str, Any]] = []
        self.status = status
        self.delay_s = delay_s
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                try:
                    owner.messages.append(json.loads(body))
                except ValueError:
                    owner.messages.append({"raw": body.decode("utf-8", "replace")})
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

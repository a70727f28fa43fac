"""A loopback stub of the Anthropic Messages API, standard library only.

Enough for the real Claude Code CLI (2.1.197) to run a whole turn offline::

    with MessagesStub(reply="pong from the stub") as stub:
        env["ANTHROPIC_BASE_URL"] = stub.url      # http://127.0.0.1:PORT
        ...run claude...
        assert stub.message_requests()            # it really called us

- ``POST /v1/messages`` with ``"stream": true``: server-sent events ``message_start``,
  ``content_block_start``, ``ping``, ``content_block_delta`` (``text_delta``, the reply in a few
  chunks), ``content_block_stop``, ``message_delta`` (``stop_reason: "end_turn"`` and usage),
  ``message_stop``.
- ``POST /v1/messages`` without streaming: one JSON ``message`` object.
- Any other method or path (``/v1/messages/count_tokens``, ``/api/...``, ``HEAD /``): ``{}``, 200.

Every request is recorded (method, path, headers, parsed JSON body) in a thread-safe list.
``reply`` may be a string or a callable ``(request: StubRequest) -> str | dict``; a dict
``{"name": "Bash", "input": {...}}`` is answered as one ``tool_use`` block (``input_json_delta``
when streaming, ``stop_reason: "tool_use"``), e.g. to make the CLI show a permission prompt.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

__all__ = ["MessagesStub", "StubRequest", "request_text"]


@dataclass
class StubRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    raw: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path.split("?", 1)[0].rstrip("/") == "/v1/messages"

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


def request_text(req: StubRequest) -> str:
    """All the text of a Messages request (system + messages), for assertions."""
    if not isinstance(req.body, dict):
        return ""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            parts.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            if "content" in node:
                walk(node["content"])

    walk(req.body.get("system"))
    walk(req.body.get("messages"))
    return "\n".join(parts)


class _Handler(BaseHTTPRequestHandler):
    server_version = "MessagesStub/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    # --- plumbing -------------------------------------------------------------------------
    @property
    def stub(self) -> "MessagesStub":
        return self.server.stub  # type: ignore[attr-defined]

    def _read_request(self) -> StubRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        req = StubRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
        self.stub._record(req)
        return req

    def _send_json(self, value: Any, status: int = 200) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", f"req_stub_{uuid.uuid4().hex[:20]}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # --- verbs ----------------------------------------------------------------------------
    def do_POST(self) -> None:
        req = self._read_request()
        if not req.is_messages:
            self._send_json({})
            return
        reply = self.stub._reply_for(req)
        if self.stub.delay_s > 0:
            time.sleep(self.stub.delay_s)
        tool = reply if isinstance(reply, dict) else None
        text = "" if tool is not None else str(reply)
        model = str(req.body.get("model") or "claude-stub") if isinstance(req.body, dict) else "claude-stub"
        msg_id = f"msg_stub_{uuid.uuid4().hex[:24]}"
        in_tokens = max(1, len(request_text(req)) // 4)
        out_tokens = max(1, len(text or json.dumps(tool)) // 4)
        if tool is not None:
            block = {"type": "tool_use", "id": tool.get("id") or f"toolu_stub_{uuid.uuid4().hex[:20]}",
                     "name": tool["name"], "input": tool.get("input") or {}}
        else:
            block = {"type": "text", "text": text}
        stop_reason = "tool_use" if tool is not None else "end_turn"
        if req.stream:
            self._stream(msg_id, model, block, stop_reason, in_tokens, out_tokens)
        else:
            self._send_json(
                {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [block],
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": {"input_tokens": in_tokens, "output_tokens": out_tokens,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
                }
            )

    def _stream(self, msg_id: str, model: str, block: dict[str, Any], stop_reason: str,
                in_tokens: int, out_tokens: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("request-id", f"req_stub_{uuid.uuid4().hex[:20]}")
        self.end_headers()
        self.close_connection = True

        def event(name: str, data: dict[str, Any]) -> None:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        event("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": in_tokens, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}})
        if block["type"] == "tool_use":
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            payload, delta_type, key = json.dumps(block["input"]), "input_json_delta", "partial_json"
        else:
            start = {"type": "text", "text": ""}
            payload, delta_type, key = block["text"], "text_delta", "text"
        event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start})
        event("ping", {"type": "ping"})
        step = max(1, (len(payload) + 2) // 3)
        for i in range(0, len(payload), step):
            event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": delta_type, key: payload[i : i + step]}})
        event("content_block_stop", {"type": "content_block_stop", "index": 0})
        event("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                "usage": {"output_tokens": out_tokens}})
        event("message_stop", {"type": "message_stop"})

    def _other(self) -> None:
        self._read_request()
        self._send_json({})

    do_GET = _other
    do_HEAD = _other
    do_PUT = _other
    do_PATCH = _other
    do_DELETE = _other
    do_OPTIONS = _other


class MessagesStub:
    """``with MessagesStub(reply="...") as stub: stub.url``; ``stub.requests`` lists what came in."""

    def __init__(self, reply: str | Callable[[StubRequest], str | dict[str, Any]] = "Hello from the stub.",
                 host: str = "127.0.0.1", port: int = 0, delay_s: float = 0.0) -> None:
        self.reply = reply
        self.delay_s = delay_s  # wait this long before answering /v1/messages (keeps the CLI busy)
        self._lock = threading.Lock()
        self._requests: list[StubRequest] = []
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.stub = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> "MessagesStub":
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="messages-stub", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "MessagesStub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- facts ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[StubRequest]:
        with self._lock:
            return list(self._requests)

    def message_requests(self) -> list[StubRequest]:
        return [r for r in self.requests if r.is_messages]

    def saw_text(self, needle: str) -> bool:
        return any(needle in request_text(r) for r in self.message_requests())

    # --- internals ------------------------------------------------------------------------
    def _record(self, req: StubRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _reply_for(self, req: StubRequest) -> str | dict[str, Any]:
        reply = self.reply(req) if callable(self.reply) else self.reply
        return reply if isinstance(reply, dict) else str(reply)


if __name__ == "__main__":  # manual use: python tests/messages_stub.py
    with MessagesStub() as s:
        print(s.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

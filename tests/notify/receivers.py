"""Real receivers on loopback: a webhook endpoint and an SMTP server."""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class WebhookReceiver:
    """Records every request as it arrives; answers 503 while `down` is set, `delay` seconds late."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    delay: float = 0.0

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 503 if receiver.down else 200
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body, "status": status}
                )
                time.sleep(receiver.delay)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["status"] == 200]

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.accepted()]

    def close(self) -> None:
        self.server.shutdown()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


class SmtpServer:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.mailbox = _Mailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list[Any]:
        return self.mailbox.messages

    def close(self) -> None:
        self.controller.stop()

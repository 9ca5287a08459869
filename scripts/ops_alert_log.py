"""The operators' receiver of last resort: Alertmanager's webhook, written to a log file.

`make up` starts it on 127.0.0.1:9095 and points Alertmanager at it when no operator receiver is
set (LIAISON_OPS_WEBHOOK_URL or LIAISON_OPS_EMAIL): every notification Alertmanager sends (firing
and resolved) becomes one JSON line in .local/logs/ops-alerts.log, so the platform's own alerts
reach a file an operator reads with `tail -f`, never nothing.

    python scripts/ops_alert_log.py --port 9095 --log .local/logs/ops-alerts.log
"""

import argparse
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_BODY = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9095)
    parser.add_argument("--log", type=Path, default=Path(".local/logs/ops-alerts.log"))
    args = parser.parse_args()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_response(413)
                self.end_headers()
                return
            try:
                payload = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            lines = [
                json.dumps(
                    {
                        "received_at": datetime.now(UTC).isoformat(),
                        "status": alert.get("status"),
                        "alertname": alert.get("labels", {}).get("alertname"),
                        "labels": alert.get("labels", {}),
                        "summary": alert.get("annotations", {}).get("summary"),
                        "starts_at": alert.get("startsAt"),
                        "ends_at": alert.get("endsAt"),
                    },
                    ensure_ascii=False,
                )
                for alert in payload.get("alerts", [])
            ]
            with lock, args.log.open("a", encoding="utf-8") as log:
                log.writelines(line + "\n" for line in lines)
            self.send_response(200)
            self.end_headers()

        def do_GET(self) -> None:
            self.send_response(200)  # a health check
            self.end_headers()

        def log_message(self, format: str, *values: object) -> None:  # quiet: the log file says it
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Receiver).serve_forever()


if __name__ == "__main__":
    main()

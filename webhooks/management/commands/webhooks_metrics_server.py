"""Serve the metrics of this machine's processes on a port of their own (worker-only machines)."""

import http.server

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from webhooks.observability import exporter


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        close_old_connections()  # one connection, reused between scrapes while it is healthy
        body = exporter.render()
        self.send_response(200)
        self.send_header("Content-Type", exporter.CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass  # a scrape every 15 s is not news


class Command(BaseCommand):
    help = (
        "Serve GET /metrics, without the service key, on --bind: the metrics every process of "
        "this machine wrote to PROMETHEUS_MULTIPROC_DIR and the scrape-time gauges. For a "
        "machine that runs workers but no web process; bind it to an address only Prometheus "
        "reaches."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            default="127.0.0.1:9464",
            metavar="HOST:PORT",
            help="address to listen on (default 127.0.0.1:9464)",
        )

    def handle(self, *args, bind: str, **options):
        if not exporter.multiprocess_mode():
            raise CommandError(
                f"Set {exporter.MULTIPROC_ENV} to the directory this machine's processes write "
                "their metrics to (the same value as theirs)."
            )
        host, _, port = bind.rpartition(":")
        if not host or not port.isdigit():
            raise CommandError(f"--bind: expected HOST:PORT, got {bind!r}")
        # One thread: scrapes are rare, and the database connection stays with it.
        server = http.server.HTTPServer((host.strip("[]"), int(port)), _Handler)
        self.stdout.write(f"serving metrics on http://{bind}/metrics")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

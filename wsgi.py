"""Entry point: `gunicorn wsgi:app` or `python wsgi.py --host H --port P`."""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import errno  # noqa: E402
import gc  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from ethergate import create_app  # noqa: E402
from ethergate.settings import ConfigError, public_base_url_for  # noqa: E402

try:
    app = create_app()
except ConfigError as exc:
    print(f"ethergate: configuration error: {exc}", file=sys.stderr)
    sys.exit(2)


def serve(host: str, port: int) -> None:
    from gevent.pywsgi import WSGIHandler, WSGIServer

    from ethergate.observability import phases
    from ethergate.serving import FairTurns, OneWriteResponses, freeze_startup_objects

    idle: set = set()  # handlers waiting for the next request on a keep-alive connection
    draining: list = []

    class NoDelayHandler(OneWriteResponses, FairTurns, WSGIHandler):
        def __init__(self, sock, address, server, rfile=None):
            # Without TCP_NODELAY, keep-alive responses stall ~40 ms on Nagle + delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().__init__(sock, address, server, rfile)
            self.accepted_at = time.perf_counter() if phases.PATH else None

        def get_environ(self):
            environ = super().get_environ()
            environ["ethergate.client_socket"] = self.socket  # lets a stream notice a vanished client
            if phases.PATH:
                phases.begin(environ, self.accepted_at, self.read_at)
                self.accepted_at = None
            return environ

        def log_request(self):
            # The app writes its own access line; gevent would format one per request only to drop it.
            if phases.PATH:
                phases.finish(self.environ)

        def read_requestline(self):
            # While draining, a connection between requests is closed rather than kept for another one.
            if draining:
                return ""
            idle.add(self)
            try:
                return super().read_requestline()
            finally:
                idle.discard(self)
                if phases.PATH:
                    self.read_at = time.perf_counter()

    from gevent.pool import Pool

    # stop() waits for in-flight requests (streams) only when handlers run in a pool; unbounded like before.
    server = WSGIServer((host, port), app, handler_class=NoDelayHandler, log=None, error_log=sys.stderr,
                        spawn=Pool())
    try:
        server.init_socket()
    except OSError as exc:
        reason = "address already in use (is another server running? stop it or pick another PORT)" \
            if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        print(f"ethergate: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        sys.exit(2)
    if app.config.get("PUBLIC_BASE_URL_FROM_BIND"):
        app.config["PUBLIC_BASE_URL"] = public_base_url_for(host, server.server_port)
    print(f"ethergate listening on http://{host}:{server.server_port}", flush=True)

    def stop(*_):
        draining.append(True)
        for handler in list(idle):
            try:
                handler.socket.shutdown(socket.SHUT_RD)  # wakes its read with EOF
            except (AttributeError, OSError):
                pass
        server.stop(timeout=app.config.get("SHUTDOWN_GRACE_SECONDS", 10))

    import gevent
    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    from ethergate.alerts.sweeper import start_alert_sweeper
    from ethergate.billing.sweeper import start_sweeper
    from ethergate.database import start_checkpointer
    from ethergate.extensions import db
    from ethergate.limits.limiter import close_limiter
    from ethergate.observability.logs import configure_logging
    configure_logging(app)
    start_sweeper(app)
    start_alert_sweeper(app)
    with app.app_context():
        start_checkpointer(db.engine)
    freeze_startup_objects()
    # serve_forever stops the server again on its way out, killing handlers after stop_timeout (1 s by default).
    server.serve_forever(stop_timeout=app.config.get("SHUTDOWN_GRACE_SECONDS", 10))
    close_limiter(app)
    # Everything still alive lives until exit: without this, the interpreter's last collection walks every
    # object for about a second before the process ends, which is how long a restart waits.
    gc.freeze()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Serve EtherGate with gevent's WSGI server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    serve(args.host, args.port)

"""Run a server's Flask app under gunicorn (a production WSGI server): ``processes`` workers, many threads.

Each worker process builds the app and holds its own models, loaded once; ``threads`` serve requests
concurrently and the model calls themselves are batched (see ``shared.batching``). The app is built
inside the worker (not before the fork, which would leave torch's thread pools in a bad state). A model
that fails to load stops the worker, and gunicorn then exits non-zero with the cause in the log.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from flask import Flask
from gunicorn import glogging
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from shared.config import ConfigError
from shared.logs import LogFormat, configure_logging

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_TIMEOUT = 30.0  # seconds a client may pause mid-request, and the most its headers may take


class ClientTimeout(Exception):
    """The client sent nothing for ``seconds`` while its request (headers or body) was being read, or
    (``head``) its headers were not all there ``seconds`` after their first byte.

    Not an ``OSError``: gunicorn would log that as a socket error with a traceback and answer nothing;
    this one reaches the worker's ``handle_error`` (a 408 before the app runs) or, raised while the app
    reads the body, ``shared.api`` (a 408 in the suite's shape)."""

    def __init__(self, seconds: float, head: bool = False) -> None:
        super().__init__(f"the headers took more than {seconds:g} s" if head
                         else f"the client sent nothing for {seconds:g} s")
        self.seconds = seconds


class _ReadTimeoutSocket:
    """The client socket as gunicorn's request parser sees it: a read waits at most ``timeout`` seconds,
    and a request's head (request line and headers) must arrive whole within ``timeout`` of its first byte.

    gunicorn's gthread worker reads a request with blocking, untimed reads once its first bytes have
    arrived, so a client that stalls mid-request holds a thread for good, and one that trickles a header
    byte now and then holds it too. Only reads are timed: sends (a long download to a slow reader) and
    the time the app computes are not; a body may take as long as it keeps arriving."""

    def __init__(self, sock, timeout: float) -> None:
        self._sock, self._timeout = sock, timeout
        self.timed_out = False
        self._head_deadline: float | None = None
        self.reading_head = True  # until the worker hands the request to the app (``head_read``)

    def head_read(self) -> None:
        self.reading_head = False

    def next_head(self) -> None:
        self.reading_head, self._head_deadline = True, None

    def recv(self, size: int, *flags: int) -> bytes:
        if self._sock.gettimeout() is not None:  # the caller bounds this read itself (gunicorn's drain)
            return self._sock.recv(size, *flags)
        timeout, head = self._timeout, self.reading_head and self._head_deadline is not None
        if head:  # what is already there is still read (0: a non-blocking read) once the deadline has passed
            timeout = max(0.0, self._head_deadline - time.monotonic())
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(size, *flags)
        except (TimeoutError, BlockingIOError):
            self.timed_out = True
            raise ClientTimeout(self._timeout, head) from None
        finally:
            self._sock.settimeout(None)
        if self.reading_head and self._head_deadline is None and data.strip(b"\r\n"):
            # The head's clock starts at its first byte (not at a stray CRLF after the last body, which
            # keeps an idle keep-alive connection in this thread instead of the poller).
            self._head_deadline = time.monotonic() + self._timeout
        return data

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class _TimedConn(TConn):
    """A gthread connection whose request parser reads through :class:`_ReadTimeoutSocket`."""

    client_timeout = DEFAULT_CLIENT_TIMEOUT

    def init(self) -> None:
        fresh = self.parser is None
        super().init()
        unreader = getattr(self.parser, "unreader", None)
        if fresh and self.client_timeout > 0 and isinstance(unreader, SocketUnreader):
            unreader.sock = _ReadTimeoutSocket(unreader.sock, self.client_timeout)

    def close(self, graceful: bool = False) -> None:
        """gthread closes a finished connection on the worker's main loop, gracefully: it waits up to
        2 s for the client to close too. A client that stalled does not, so each would freeze accepting,
        keep-alive and the heartbeat for 2 s, one after another (12 at once got the worker killed).
        Its connection is closed at once: it sent nothing that would need draining."""
        unreader = getattr(self.parser, "unreader", None)
        if getattr(getattr(unreader, "sock", None), "timed_out", False):
            graceful = False
        super().close(graceful)


class _ClientTimeoutWorker(ThreadWorker):
    """gunicorn's gthread worker, with a read timeout on every connection (the app's ``client_timeout``)."""

    def handle(self, conn):
        if type(conn) is TConn:  # gthread builds its connections itself, in accept()
            conn.__class__ = _TimedConn
            conn.client_timeout = getattr(self.app, "client_timeout", DEFAULT_CLIENT_TIMEOUT)
        return super().handle(conn)

    def handle_request(self, req, conn):
        """The head has arrived: from here its body's reads are timed one by one; once answered, the
        connection's next request is a new head."""
        sock = getattr(getattr(conn.parser, "unreader", None), "sock", None)
        if not isinstance(sock, _ReadTimeoutSocket):
            return super().handle_request(req, conn)
        sock.head_read()
        try:
            return super().handle_request(req, conn)
        finally:
            sock.next_head()

    def handle_error(self, req, client, addr, exc) -> None:
        if not isinstance(exc, ClientTimeout):
            return super().handle_error(req, client, addr, exc)
        self.log.info("closing the connection of %s: %s while its request was read", (addr or ("",))[0], exc)
        try:
            gunicorn_util.write_error(client, 408, "Request Timeout", "")
        except Exception:  # the client is gone too
            pass
        return None


class _SuiteLogger(glogging.Logger):
    """gunicorn's own lines (workers booting and exiting, signals, timeouts) in the server's documented
    format on stdout, through the root handler ``configure_logging`` installed, instead of gunicorn's
    ``[date] [pid] [LEVEL]`` on stderr: one format per server in ``pm2 logs``."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.propagate = True


class _DrainingArbiter(Arbiter):
    """SIGINT drains in-flight requests like SIGTERM does (gunicorn's own SIGINT cuts them off). An app
    that will not load stops the server once: gunicorn halts on the first worker's load error, and the
    second's, reaped while it stops, would raise the halt again (exit 1 and two tracebacks, not 4)."""

    _halting = False

    def handle_int(self):
        self.handle_term()

    def halt(self, reason=None, exit_status=0):
        self._halting = True
        super().halt(reason, exit_status)

    def reap_workers(self):
        try:
            super().reap_workers()
        except HaltServer:
            if not self._halting:
                raise


_HTTP_ERRORS = {  # what gunicorn itself refuses, before the app sees the request
    400: "The request is not valid HTTP (request line, header or chunked body).",
    408: "The request's headers did not arrive in time: they must arrive within {client_timeout:g} seconds.",
    414: "The URL is too long: at most {limit_request_line} bytes.",
    417: "Unsupported Expect header.",
    431: "The request headers are too large: at most {limit_request_fields} fields of "
         "{limit_request_field_size} bytes.",
    501: "Unsupported Transfer-Encoding.",
}


def _json_error_writer(cfg, client_timeout: float = DEFAULT_CLIENT_TIMEOUT) -> Callable:
    """gunicorn's own error pages (HTML quoting its parser) as the suite's ``{"message": ...}``."""
    limits = {k: getattr(cfg, k) for k in ("limit_request_line", "limit_request_fields", "limit_request_field_size")}
    limits["client_timeout"] = client_timeout

    def write_error(sock, status_int: int, reason: str, mesg: str) -> None:
        message = _HTTP_ERRORS.get(status_int, "Internal server error." if status_int >= 500 else reason)
        body = json.dumps({"message": message.format(**limits)}).encode()
        head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)

    return write_error


def _post_worker_init(worker) -> None:
    # A Ctrl-C reaches the whole process group; the worker then waits for the master's SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The worker reports malformed requests with util.write_error; this process is ours alone.
    gunicorn_util.write_error = _json_error_writer(worker.cfg, getattr(worker.app, "client_timeout",
                                                                       DEFAULT_CLIENT_TIMEOUT))


class _Gunicorn(BaseApplication):
    def __init__(self, build: Callable[[], Flask], name: str, options: dict, log_format: LogFormat,
                 client_timeout: float = DEFAULT_CLIENT_TIMEOUT) -> None:
        self._build, self._name, self._options, self._log_format = build, name, options, log_format
        self.client_timeout = client_timeout  # read by the worker (_ClientTimeoutWorker)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def run(self) -> None:
        _DrainingArbiter(self).run()

    def load(self) -> Flask:
        # In the worker, after gunicorn set up its own loggers: ours go to stdout in our format.
        configure_logging(self._log_format, os.environ.get("LOG_LEVEL", "DEBUG"))
        try:
            return self._build()
        except ConfigError as exc:  # a setting to fix: the line says which, a traceback would bury it
            logger.error("%s could not start: %s", self._name, exc)
            sys.exit(4)  # gunicorn's "app load error": the master stops instead of respawning
        except Exception as exc:  # the cause on the first line too: it is the line `pm2 logs` shows first
            logger.exception("%s could not start: %s", self._name, exc)
            sys.exit(4)


def read_settings(read: Callable[[], dict], name: str, log_format: LogFormat) -> dict:
    """A server command's settings (``read``: its ``load_config``); one that cannot be read stops the
    command with one line naming it, in the server's log format, instead of a traceback."""
    configure_logging(log_format, os.environ.get("LOG_LEVEL", "DEBUG"))
    try:
        return read()
    except ConfigError as exc:
        logger.error("%s could not start: %s", name, exc)
        sys.exit(2)


def serve(build: Callable[[], Flask], name: str, *, host: str, port: int, threads: int = 8, processes: int = 1,
          timeout: int = 120, graceful_timeout: int = 25, log_format: LogFormat = LogFormat.PIPE,
          client_timeout: float = DEFAULT_CLIENT_TIMEOUT) -> None:
    """Serve ``build()``'s app on ``host:port`` until SIGTERM or SIGINT, which both stop accepting
    connections and let in-flight requests finish (up to ``graceful_timeout`` seconds). An app that
    will not build (a model or a store that will not load) stops the server with the cause logged.
    ``processes`` gunicorn workers each build their own app and share the port (each has its own
    Python lock: a model server's Python work scales with them, not with threads). A client that sends
    nothing for ``client_timeout`` seconds while its request is being read, or whose headers take longer
    than that from their first byte, gets a 408 and is dropped, freeing its thread (``0``: no limit);
    keep-alive waits, sends and the app's own work are not timed."""
    configure_logging(log_format, os.environ.get("LOG_LEVEL", "DEBUG"))
    options = {
        "bind": f"{host}:{port}",
        "workers": max(1, processes),
        "worker_class": _ClientTimeoutWorker,  # gthread, with client_timeout
        "threads": threads,
        "timeout": timeout,  # also bounds model loading at start-up
        "graceful_timeout": graceful_timeout,
        "accesslog": None,  # every request is logged in the documented format by shared.logs
        "errorlog": "-",
        "loglevel": "info",
        "logger_class": _SuiteLogger,
        "post_worker_init": _post_worker_init,
        "control_socket_disable": True,  # one shared ~/.gunicorn/gunicorn.ctl would be fought over
    }
    logger.info("starting on http://%s:%d: %d process(es) x %d threads", host, port, max(1, processes), threads)
    _Gunicorn(build, name, options, log_format, client_timeout).run()

"""HTTP plumbing shared by the Hub and CDN ports: requests, responses, ranges, fault-aware sending.

Design notes
 - one thread per connection (ThreadingHTTPServer, daemon threads, a deep listen backlog), HTTP/1.1
   keep-alive: every answer carries an exact Content-Length, HEAD included, and a request body is
   always read in full, so the next request on the connection starts where it should;
 - a route is a function Request -> Response that may raise HubError; the dispatcher turns that
   into the JSON error answer, and any other exception into a 500 (or a closed connection if the
   headers were already sent) plus one line on stderr: a bad request never stops the server;
 - a client that goes away (reset, broken pipe, timeout) ends its connection silently;
 - a fault's answer (effect.status / effect.location) replaces the route's; its "headers" are
   added to whichever answer goes out, and its "body" replaces that answer's body;
 - file bodies are streamed from disk: sendfile() when no fault touches the body, otherwise
   64 KiB reads (smaller when throttled) with the faults applied on the way out;
 - TLS (optional): the listening socket is wrapped without a handshake on accept, so the
   handshake runs in the connection's thread (Handler.setup): a slow or refusing client never
   holds up the accept loop, and a failed handshake ends only its own connection, quietly.
"""

import email.utils
import io
import json
import re
import socket
import ssl
import struct
import sys
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .repos import HubError

MAX_BODY = 16 << 20
CHUNK = 64 << 10
RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


class Aborted(Exception):
    """The connection was reset on purpose (a fault); nothing more to send."""


class Answer(Exception):
    """Raised by a route to answer with `response` at once (a redirect, a CDN error)."""

    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


class Response:
    """Status, headers and a body: bytes, or `length` bytes of file `path` from `start`."""

    def __init__(self, status, headers=(), body=b"", path=None, start=0, length=0):
        self.status = status
        self.headers = list(headers)
        self.body = body
        self.path = path
        self.start = start
        self.length = length if path is not None else len(body)


def json_response(status, obj, headers=()):
    body = json.dumps(obj, indent=None, separators=(",", ":")).encode()
    return Response(status, [("Content-Type", "application/json; charset=utf-8")] + list(headers),
                    body)


def error_response(err):
    """The Hub's error answer: X-Error-Code, X-Error-Message and {"error": message}."""
    headers = list(err.headers)
    if err.code:
        headers.append(("X-Error-Code", err.code))
    headers.append(("X-Error-Message", err.message))
    return json_response(err.status, {"error": err.message}, headers)


def parse_range(value, size):
    """A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range as (start, end) inclusive; None to
    ignore the header (absent, malformed or several ranges); False when it cannot be satisfied."""
    m = RANGE_RE.match(value or "")
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):
        n = int(m.group(2))
        return (max(0, size - n), size - 1) if n and size else False
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else None
    if end is not None and end < start:
        return None
    if start >= size:
        return False
    return start, size - 1 if end is None else min(end, size - 1)


def etag_matches(header, etag):
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/").strip('"') == etag for t in tags)


def file_response(req, path, size, etag, headers):
    """Answer a GET/HEAD for a whole file: 200, 206 with Content-Range, 304 or 416."""
    headers = [("ETag", '"%s"' % etag), ("Accept-Ranges", "bytes")] + list(headers)
    if etag_matches(req.headers.get("If-None-Match"), etag):
        return Response(304, headers)
    rng = None if req.effect.ignore_range else parse_range(req.headers.get("Range"), size)
    if rng is False:
        return Response(416, headers + [("Content-Range", "bytes */%d" % size)])
    if rng is None:
        return Response(200, headers, path=path, start=0, length=size)
    start, end = rng
    headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))
    return Response(206, headers, path=path, start=start, length=end - start + 1)


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


class Request:
    """What a route sees of a request."""

    def __init__(self, method, path, query, headers, body, effect):
        self.method = method
        self.path = path                       # raw (still percent-encoded), without the query
        self.query = query
        self.args = urllib.parse.parse_qs(query, keep_blank_values=True)
        self.headers = headers
        self.body = body
        self.effect = effect

    def arg(self, name, default=None):
        values = self.args.get(name)
        return values[-1] if values else default

    def flag(self, name):
        return (self.arg(name) or "").lower() in ("1", "true", "yes", "on")

    @property
    def token(self):
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024

    def __init__(self, address, app, port_name, route, control=None, tls=None):
        self.app = app
        self.port_name = port_name
        self.route = route
        self.control = control
        super().__init__(address, Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):
            return                                  # the client went away
        self.app.warn("%s port: error on a connection from %s:\n%s"
                      % (self.port_name, client_address[0], traceback.format_exc()))


class Handler(BaseHTTPRequestHandler):
    # Headers and body leave in separate writes: without TCP_NODELAY each answer on a
    # kept-alive connection waits for the client's delayed ACK (tens of ms).
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    timeout = 120
    error_content_type = "application/json"
    error_message_format = '{"error":"%(code)d %(message)s"}'

    def version_string(self):
        return "hf-mock-hub"

    def log_message(self, format, *args):  # noqa: A002 (the base class names it so)
        self.server.app.log("%s %s" % (self.server.port_name, format % args))

    def setup(self):
        super().setup()                 # sets the connection's timeout first
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()   # an SSLError (an OSError) drops only this client

    def handle(self):
        try:
            super().handle()
        except OSError:
            self.close_connection = True

    def do_GET(self):
        self._began = False
        entry = None
        try:
            try:
                body = self._read_body()
            except ValueError as e:
                self.close_connection = True
                self._send(error_response(HubError(400, None, "bad request body: %s" % e)),
                           self.server.app.no_effect, None)
                return
            target = self.path
            if target.startswith(("http://", "https://")):       # absolute-form request target
                target = urllib.parse.urlsplit(target)._replace(scheme="", netloc="").geturl()
            path, _, query = target.partition("?")
            app = self.server.app
            if self.server.control and path.startswith("/_mock/"):
                req = Request(self.command, path, query, self.headers, body, app.no_effect)
                self._send(self._route(self.server.control, req), app.no_effect, None)
                return
            entry = app.state.record(self.server.port_name, self.command, path, query, self.headers)
            effect = app.state.effect(self.server.port_name, self.command, path, entry)
            if effect.close:
                self._abort()
            if effect.stall_ms and effect.stall_after is None:
                time.sleep(effect.stall_ms / 1000)
            req = Request(self.command, path, query, self.headers, body, effect)
            if effect.status is not None or effect.location is not None:
                resp = self._fault_response(effect, req)
            else:
                resp = self._route(self.server.route, req)
            if effect.headers:
                resp.headers = resp.headers + list(effect.headers.items())
            if effect.body is not None:
                resp = Response(resp.status, resp.headers, effect.body.encode())
            self._send(resp, effect, entry)
        except Aborted:
            pass
        except OSError:                         # the client went away
            self.close_connection = True
        except Exception:  # a bug: answer 500 if still possible, log it, keep serving
            self.server.app.warn("%s port: %s %s failed:\n%s" % (
                self.server.port_name, self.command, self.path, traceback.format_exc()))
            self.close_connection = True
            if not self._began:
                try:
                    self._send(error_response(HubError(500, None, "internal error")),
                               self.server.app.no_effect, entry)
                except OSError:
                    pass

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _route(self, route, req):
        try:
            return route(req)
        except HubError as e:
            return error_response(e)
        except Answer as a:
            return a.response

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts, total = [], 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size < 0:
                    raise ValueError("bad chunk size")
                if size == 0:
                    while self.rfile.readline(65537).strip():
                        pass                                   # trailers
                    return b"".join(parts)
                total += size
                if total > MAX_BODY:
                    raise ValueError("request body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        n = int(length)
        if not 0 <= n <= MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n)

    def _fault_response(self, effect, req):
        status = effect.status if effect.status is not None else 302
        headers = []
        if effect.location is not None:
            app = self.server.app
            location = effect.location
            for name, value in (("{hub}", app.hub_url), ("{cdn}", app.cdn_url),
                                ("{path}", req.path), ("{query}", req.query)):
                location = location.replace(name, value or "")
            body = b"Redirecting to " + location.encode()
            return Response(status, [("Location", location),
                                     ("Content-Type", "text/plain; charset=utf-8")], body)
        if effect.retry_after is not None:
            headers.append(("Retry-After", str(effect.retry_after)))
        if effect.ratelimit is not None:
            headers.append(("RateLimit", effect.ratelimit))
        if effect.ratelimit_policy is not None:
            headers.append(("RateLimit-Policy", effect.ratelimit_policy))
        message = effect.message or "mock fault: status %d" % status
        return error_response(HubError(status, effect.error_code, message, headers))

    def _send(self, resp, effect, entry):
        self._began = True
        if resp.status in (200, 206):
            if effect.short_body is not None and effect.short_body < resp.length:
                resp.length = effect.short_body        # ends early, cleanly (no reset)
            if effect.content_range is not None and resp.status == 206:
                resp.headers = [(k, effect.content_range if k == "Content-Range" else v)
                                for k, v in resp.headers]
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(resp.length))
        state = self.server.app.state
        if entry is not None:
            # logged before the headers go out: a client that has the answer finds it
            # in the request log
            state.answered(entry, resp.status)
        self.end_headers()
        if self.command == "HEAD" or resp.length == 0:
            return
        src = open(resp.path, "rb") if resp.path is not None else io.BytesIO(resp.body)
        with src:
            src.seek(resp.start)
            if resp.path is not None and not effect.body_faults():
                sent = self.connection.sendfile(src, resp.start, resp.length)
                if entry is not None:
                    state.sent(entry, sent)
            else:
                sent = self._stream(src, resp, effect, entry)
        if sent < resp.length:
            self._abort()                      # a reset fault, or the file shrank under us

    def _stream(self, src, resp, effect, entry):
        limit = resp.length if effect.reset_after is None else min(resp.length, effect.reset_after)
        bps = effect.throttle_bps
        chunk = CHUNK if not bps else max(1, min(CHUNK, bps // 20))
        base = resp.start if resp.path is not None else 0
        stall_at = effect.stall_after if effect.stall_ms else None
        sent, began = 0, time.monotonic()
        while sent < limit:
            n = min(chunk, limit - sent)
            if stall_at is not None:
                if sent >= stall_at:
                    time.sleep(effect.stall_ms / 1000)
                    stall_at = None
                else:
                    n = min(n, stall_at - sent)
            data = src.read(n)
            if not data:
                break
            flip = effect.flip_offset
            if flip is not None and base + sent <= flip < base + sent + len(data):
                data = bytearray(data)
                data[flip - base - sent] ^= 0xFF
            self.wfile.write(data)
            sent += len(data)
            if entry is not None:
                self.server.app.state.sent(entry, len(data))
            if bps:
                delay = began + sent / bps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        return sent

    def _abort(self):
        """Reset the connection (RST, not FIN) and stop handling it."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()                 # drop the makefile reference so close() is real
            self.connection.close()
        except OSError:
            pass
        raise Aborted()

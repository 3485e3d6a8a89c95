#!/usr/bin/env python3
"""A small HTTP backend for motan-agent's export tests (python3 http.server).

POST /<method> with a JSON array of arguments:
  echo(x)      -> x                     add(a, b) -> a + b
  fail(msg)    -> HTTP 500, msg         text()    -> a text/plain body (not JSON)
  sleep(ms)    -> ms, after ms          headers() -> the X-Motan-* request headers
  empty()      -> 204, no body          conn()    -> [connection number, requests on it]
  big(n)       -> a string of n "x"     chunked(n) -> a string of n "y", in chunks, trailers
  closed()     -> a body ended by closing the connection (no length)
  http10()     -> an HTTP/1.0 answer (the connection closes after it)
  extra()      -> a good answer followed by bytes nobody asked for
  dropnext()   -> true; the next request on this connection is closed without an answer
  seen(method) -> how many requests for method arrived so far
Hostile answers, for the agent's limits (bad_*): garbage, bigheaders, longline, truncchunk,
manyheaders, silent, midclose, hugelength, endless, badlength, twolengths, folded, slowloris, closenow.

--port N listens on 127.0.0.1:N (0 picks one), --unix PATH on a Unix socket (a stale
socket file is removed first). Prints its port (or "unix") on stdout once listening; exits on
SIGTERM.
"""
import collections
import itertools
import json
import os
import signal
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_conns = itertools.count(1)
_seen = collections.Counter()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one answer, no 40 ms delayed-ACK stall

    def setup(self):
        super().setup()
        self.conn_no = next(_conns)
        self.requests_here = 0
        self.drop_next = False

    def log_message(self, fmt, *args):  # quiet
        pass

    def answer(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def raw(self, data, close=True):
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = close

    def do_POST(self):
        self.requests_here += 1
        _seen[self.path.lstrip("/")] += 1
        if self.drop_next:  # as if it had closed the idle connection as the request came
            self.close_connection = True
            return None
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        try:
            args = json.loads(raw or b"[]")
        except ValueError:
            return self.answer(400, "bad json", "text/plain")
        method = self.path.lstrip("/")
        if method == "echo":
            return self.answer(200, json.dumps(args[0] if args else None))
        if method == "add":
            return self.answer(200, json.dumps(args[0] + args[1]))
        if method == "fail":
            return self.answer(500, str(args[0]), "text/plain")
        if method == "text":
            return self.answer(200, "plain words", "text/plain")
        if method == "sleep":
            time.sleep(args[0] / 1000.0)
            return self.answer(200, json.dumps(args[0]))
        if method == "headers":
            h = {k: v for k, v in self.headers.items() if k.lower().startswith("x-motan-")}
            h["Host"] = self.headers.get("Host")
            return self.answer(200, json.dumps(h))
        if method == "empty":
            self.send_response(204)
            self.end_headers()
            return None
        if method == "conn":
            return self.answer(200, json.dumps([self.conn_no, self.requests_here]))
        if method == "big":
            return self.answer(200, json.dumps("x" * args[0]))
        if method == "chunked":
            body = json.dumps("y" * args[0]).encode()
            out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            for i in range(0, len(body), 7000):
                part = body[i:i + 7000]
                out += b"%x;ext=1\r\n" % len(part) + part + b"\r\n"
            return self.raw(out + b"0\r\nX-Trailer: t\r\n\r\n", close=False)
        if method == "closed":
            return self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                            b"\"until the end\"")
        if method == "http10":
            return self.raw(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\n1010")
        if method == "dropnext":
            self.drop_next = True
            return self.answer(200, "true")
        if method == "seen":
            return self.answer(200, json.dumps(_seen[args[0]]))
        if method == "extra":
            return self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42HTTP/1.1 200 OK\r\n", close=False)
        if method.startswith("bad_"):
            return self.hostile(method[4:])
        return self.answer(404, "no method " + method, "text/plain")

    def hostile(self, kind):
        if kind == "closenow":
            self.close_connection = True
            return None
        if kind == "garbage":
            return self.raw(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", close=False)
        if kind == "bigheaders":  # endless header lines: the agent stops at its head limit
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            try:
                for i in range(10000):
                    self.wfile.write(b"X-Filler-%d: %s\r\n" % (i, b"f" * 1000))
            except OSError:
                pass
            self.close_connection = True
            return None
        if kind == "manyheaders":
            return self.raw(b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 200 + b"Content-Length: 3\r\n\r\n\"x\"")
        if kind == "longline":
            return self.raw(b"HTTP/1.1 200 OK\r\nX-Long: " + b"l" * 200000 + b"\r\n\r\n")
        if kind == "truncchunk":
            return self.raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n\"abcde")
        if kind == "silent":
            time.sleep(3600)
            return None
        if kind == "midclose":
            return self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n\"only ten")
        if kind == "hugelength":
            return self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n\"", close=False)
        if kind == "endless":  # a body without end: the agent stops at its body limit
            self.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n\"")
            try:
                chunk = b"e" * 65536
                for _ in range(1000):
                    self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True
            return None
        if kind == "badlength":
            return self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n\"x\"")
        if kind == "twolengths":
            return self.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n\"x\"")
        if kind == "folded":
            return self.raw(b"HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 3\r\n\r\n\"x\"")
        if kind == "slowloris":  # a byte now and then for a minute, never a whole status line
            try:
                for b in (b"HTTP/1.1 200 OK" + b"." * 600):
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            self.close_connection = True
            return None
        return self.answer(404, "no hostile " + kind, "text/plain")


class UnixHandler(Handler):
    disable_nagle_algorithm = False  # no TCP here

    def address_string(self):
        return "unix"


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def server_bind(self):
        try:
            os.unlink(self.server_address)
        except FileNotFoundError:
            pass
        super().server_bind()


def main():
    port, path = 0, None
    argv = sys.argv[1:]
    while argv:
        if argv[0] == "--port" and len(argv) > 1:
            port = int(argv[1])
        elif argv[0] == "--unix" and len(argv) > 1:
            path = argv[1]
        argv = argv[2:]
    if path:
        srv = UnixServer(path, UnixHandler)
        shown = "unix"
    else:
        srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        srv.daemon_threads = True
        shown = srv.server_address[1]
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print(shown, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

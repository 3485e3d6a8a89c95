#!/usr/bin/env python3
"""A small HTTP backend for motan-agent's export tests (python3 http.server).

POST /<method> with a JSON array of arguments:
  echo(x)      -> x                     add(a, b) -> a + b
  fail(msg)    -> HTTP 500, msg         text()    -> a text/plain body (not JSON)
  sleep(ms)    -> ms, after ms          headers() -> the X-Motan-* request headers
  empty()      -> 204, no body
Prints its port on stdout once listening (--port 0 picks one); exits on SIGTERM.
"""
import json
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one answer, no 40 ms delayed-ACK stall

    def log_message(self, fmt, *args):  # quiet
        pass

    def answer(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
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
            return self.answer(200, json.dumps(h))
        if method == "empty":
            self.send_response(204)
            self.end_headers()
            return None
        return self.answer(404, "no method " + method, "text/plain")


def main():
    port = 0
    if len(sys.argv) > 2 and sys.argv[1] == "--port":
        port = int(sys.argv[2])
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

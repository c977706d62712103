"""A stand-in for InfluxDB 2.x's write API (InfluxDB 2.x is not installed here): checks each
request the way the server would and keeps the lines it accepts.

  fake_v2.py --port P --org O --bucket B --token T --out LINES [--problems FILE]
             [--throttle N]

POST /api/v2/write?org=O&bucket=B&precision=... with "Authorization: Token T" and a body that
may be gzip-compressed (Content-Encoding: gzip): a wrong path, org, bucket or token answers
401/404 like the real server; the first N write requests (--throttle) answer 429 with
Retry-After: 1, then one answers 503, before requests are accepted (204). Accepted lines are
appended to LINES; anything unexpected about a request is appended to --problems. GET /ping
answers 204.
"""
import argparse
import gzip
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = None
state = {"writes": 0}


def problem(text):
    if args.problems:
        with open(args.problems, "a", encoding="utf-8") as out:
            out.write(text + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def answer(self, status, body=None, headers=()):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ping":
            self.answer(204)
        else:
            self.answer(404, {"code": "not found", "message": "path not found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path != "/api/v2/write":
            problem(f"path {url.path}")
            return self.answer(404, {"code": "not found", "message": "path not found"})
        if self.headers.get("Authorization") != f"Token {args.token}":
            problem("authorization header is not the token")
            return self.answer(401, {"code": "unauthorized", "message": "unauthorized access"})
        if query.get("org") != [args.org] or query.get("bucket") != [args.bucket]:
            problem(f"query {url.query}")
            return self.answer(404, {"code": "not found",
                                     "message": f'bucket "{query.get("bucket")}" not found'})
        if query.get("precision", ["ns"])[0] not in ("ns", "us", "ms", "s"):
            problem(f"precision {query.get('precision')}")
        if self.headers.get("Content-Encoding") == "gzip":
            try:
                body = gzip.decompress(body)
            except OSError as error:
                problem(f"bad gzip: {error}")
                return self.answer(400, {"code": "invalid", "message": "bad gzip"})
        elif args.expect_gzip:
            problem("the body is not gzip-compressed")
        state["writes"] += 1
        if state["writes"] <= args.throttle:
            return self.answer(429, {"code": "too many requests", "message": "slow down"},
                               [("Retry-After", "1")])
        if state["writes"] == args.throttle + 1:
            return self.answer(503, {"code": "unavailable", "message": "try again"})
        text = body.decode("utf-8")
        if text and not text.endswith("\n"):
            text += "\n"
        with open(args.out, "a", encoding="utf-8") as out:
            out.write(f"#precision={query.get('precision', ['ns'])[0]}\n")
            out.write(text)
        self.answer(204)


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--org", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--problems")
    parser.add_argument("--throttle", type=int, default=0)
    parser.add_argument("--expect-gzip", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("listening", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An HTTP receiver for the http sink's tests: records every request and answers as its path says.

    receiver.py PORT FOLDER

Each request is kept as FOLDER/<case>/<n>.json (method, path, headers, the status answered, how
many requests of the case were being answered when it arrived, itself included) and
FOLDER/<case>/<n>.body, n counting the requests of the case from 1. The path says how to answer
(<case> is any name; counters are per path):

    /<case>/ok                     200
    /<case>/fail500/N              500 for the first N requests, then 200
    /<case>/throttle/SECONDS/N     429 with Retry-After: SECONDS for the first N, then 200
    /<case>/reject/EVERY           400 with a body for every EVERY-th request, else 200
    /<case>/slow/SECONDS/N         sleeps SECONDS before answering the first N, then 200
"""

import http.server
import json
import os
import sys
import threading
import time

lock = threading.Lock()
counters = {}
in_flight = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        parts = self.path.split("?")[0].strip("/").split("/")
        case, rule, args = parts[0], parts[1] if len(parts) > 1 else "ok", parts[2:]
        with lock:
            count = counters.get(self.path, 0) + 1
            counters[self.path] = count
            number = sum(counters[key] for key in counters if key.split("/")[1] == case)
            in_flight[case] = in_flight.get(case, 0) + 1
            concurrent = in_flight[case]
        status, reply, extra, delay = 200, b'{"ok":true}', [], 0.0
        if rule == "fail500" and count <= int(args[0]):
            status, reply = 500, b"internal trouble"
        elif rule == "throttle" and count <= int(args[1]):
            status, reply, extra = 429, b"slow down", [("Retry-After", args[0])]
        elif rule == "reject" and count % int(args[0]) == 0:
            status, reply = 400, b'{"error":"field amount must be positive","request":%d}' % count
        elif rule == "slow" and count <= int(args[1]):
            delay = float(args[0])
        folder = os.path.join(sys.argv[2], case)
        os.makedirs(folder, exist_ok=True)
        record = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                  "status": status, "time": time.time(), "count": count, "in_flight": concurrent}
        with open(os.path.join(folder, "%06d.body" % number), "wb") as out:
            out.write(body)
        with open(os.path.join(folder, "%06d.json" % number), "w") as out:
            json.dump(record, out)
        if delay:
            time.sleep(delay)
        try:
            self.answer(status, reply, extra)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with lock:
                in_flight[case] -= 1

    do_POST = handle_any
    do_PUT = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
server.serve_forever()

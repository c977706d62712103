"""Runs a live pipeline with `sluice run --http` and checks what it serves, as one suite.

Scrapes /metrics with prometheus_client's text-format parser (and with a real Prometheus
server when one is installed), checks /health and /ready, compares the last scrape with the
run's summary line, and sends hostile clients (garbage, an oversized request, 200 idle
connections) while the pipeline runs. Prints "ok: ..." or "FAILED: ..." per check; exits 1
when any check failed.

    check_metrics.py SLUICE WORK_DIR
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

SLUICE, WORK = sys.argv[1], sys.argv[2]
failures = 0
passes = 0


def check(condition, message, detail=""):
    global failures, passes
    if condition:
        passes += 1
        print(f"ok: {message}")
    else:
        failures += 1
        print(f"FAILED: {message} {detail}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    """(status, body) of a GET; status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, ""


def parse(text):
    """{(name, frozenset(labels)): value} from a text-format page, and the families' types."""
    samples, types = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def write_pipeline(path, rate, duration, extra="", parts=False):
    """A generator, a step that rejects about 1 row in 97, a window and two file sinks; with
    parts, the sinks write rolling part files (what checkpoints need)."""
    suffix = '-{part}.jsonl", roll: {interval: 1m}' if parts else '.jsonl"'

    with open(path, "w") as out:
        out.write(f"""name: metered
sources:
  quotes:
    connector: generator
    rate: {rate}
    batch_size: 200
    linger: 50ms
    symbols: 12
    event_time: {{field: ts, watermark_delay: 1s}}
    until: {{duration: {duration}}}
pipeline:
  - name: parse
    derive: {{code: "CAST(CASE WHEN volume % 97 = 0 THEN 'x' ELSE '1' END AS int64)"}}
  - name: minute
    window:
      tumbling: 1s
      group_by: [symbol]
      aggregate: {{volume: [sum]}}
sinks:
  windows: {{connector: file, path: "{WORK}/windows{suffix}}}
  raw: {{connector: file, path: "{WORK}/raw{suffix}, input: parse}}
dead_letters: {{connector: file, path: "{WORK}/dead{suffix}}}
{extra}""")


def start(args):
    stderr = open(os.path.join(WORK, "stderr.txt"), "w")
    return subprocess.Popen([SLUICE, "run", "--no-progress", *args], stdout=subprocess.DEVNULL,
                            stderr=stderr)


def stderr_text():
    with open(os.path.join(WORK, "stderr.txt")) as f:
        return f.read()


def wait_for(predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def case_bad_address():
    pipeline = os.path.join(WORK, "bad.yaml")
    write_pipeline(pipeline, 100, "1s")
    for bad in ["nonsense", "127.0.0.1:99999", "127.0.0.1:", "::1:80"]:
        run = subprocess.run([SLUICE, "run", pipeline, "--http", bad], capture_output=True,
                             text=True, timeout=30)
        check(run.returncode == 2 and "invalid HTTP address" in run.stderr,
              f"--http {bad} is refused with a clear error", f"{run.returncode} {run.stderr}")
    write_pipeline(pipeline, 100, "1s", "http: {address: 'localhost'}\n")
    run = subprocess.run([SLUICE, "validate", pipeline], capture_output=True, text=True, timeout=30)
    check(run.returncode == 2 and re.search(r"bad\.yaml:\d+:\d+: error: http\.address", run.stderr),
          "a bad http.address in the file is a file:line:col error", run.stderr)


def case_address_in_use():
    pipeline = os.path.join(WORK, "busy.yaml")
    write_pipeline(pipeline, 100, "1s")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run([SLUICE, "run", pipeline, "--http", f"127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=30)
    check(run.returncode == 1 and "already in use" in run.stderr
          and not os.path.exists(os.path.join(WORK, "raw.jsonl")),
          "an address in use fails at startup, before any output", run.stderr)


def start_prometheus(target_port):
    if shutil.which("prometheus") is None:
        print("note: no prometheus server installed; scraping with the parser only")
        return None, None
    port = free_port()
    folder = os.path.join(WORK, "prometheus")
    os.makedirs(folder, exist_ok=True)
    config = os.path.join(folder, "prometheus.yml")
    with open(config, "w") as out:
        out.write(f"""global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: sluice
    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]
""")
    log = open(os.path.join(folder, "log.txt"), "w")
    process = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={folder}/data",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    if not wait_for(lambda: get(f"http://127.0.0.1:{port}/-/ready")[0] == 200, 20):
        print("FAILED: prometheus did not start")
        process.kill()
        return None, None
    return process, port


def prometheus_query(port, query):
    status, body = get(f"http://127.0.0.1:{port}/api/v1/query?"
                       + urllib.parse.urlencode({"query": query}))
    if status != 200:
        return []
    return json.loads(body)["data"]["result"]


def hostile_clients(port):
    """Garbage, an oversized request and 200 idle connections; returns the idle sockets."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x00\x01GARBAGE \xff\r\n\r\n")
        answer = s.recv(200)
    check(answer.startswith(b"HTTP/1.1 400"), "garbage gets 400", answer[:60])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = s.recv(200)
        except ConnectionResetError:
            answer = b"reset"
    check(answer.startswith(b"HTTP/1.1 413") or answer == b"reset",
          "a 1 MiB request is cut off (413)", answer[:60])
    status, _ = get(f"http://127.0.0.1:{port}/nope")
    check(status == 404, "an unknown path gets 404", status)
    idle = []
    for _ in range(200):
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    # Half of them send an unfinished request.
    for s in idle[::2]:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    return idle


def case_live_run():
    port = free_port()
    pipeline = os.path.join(WORK, "live.yaml")
    write_pipeline(pipeline, 4000, "6s")
    prometheus, prometheus_port = start_prometheus(port)
    status, _ = get(f"http://127.0.0.1:{port}/health", timeout=1)
    check(status == 0, "nothing listens before the run")
    run = start([pipeline, "--http", f"127.0.0.1:{port}", "--http-linger", "30s"])
    base = f"http://127.0.0.1:{port}"
    check(wait_for(lambda: get(base + "/health")[0] == 200, 20), "/health answers 200")
    check(wait_for(lambda: get(base + "/ready")[0] == 200, 20), "/ready answers 200 while running")
    idle = hostile_clients(port)
    scrapes = []
    for _ in range(4):
        status, text = get(base + "/metrics")
        if status == 200:
            scrapes.append(parse(text))
        time.sleep(0.7)
    check(len(scrapes) == 4, "4 scrapes during the run with 200 idle connections open")
    rows = [value(s, "sluice_source_rows_total", source="quotes") for s, _ in scrapes]
    check(all(r is not None for r in rows) and rows == sorted(rows) and rows[-1] > rows[0],
          "sluice_source_rows_total grows between scrapes", rows)
    batches = [value(s, "sluice_batch_duration_seconds_count") for s, _ in scrapes]
    check(batches[-1] > batches[0], "the batch latency histogram counts batches", batches)
    samples, types = scrapes[-1]
    check(types.get("sluice_batch_duration_seconds") == "histogram"
          and types.get("sluice_source_rows") == "counter"
          and types.get("sluice_queue_fill_ratio") == "gauge",
          "families have the right TYPE", types)
    watermark = value(samples, "sluice_watermark_seconds", source="quotes")
    check(watermark is not None and 1704067200 <= watermark < 1704067200 + 3600,
          "sluice_watermark_seconds is the event time in Unix seconds", watermark)
    pipeline_watermark = value(samples, "sluice_pipeline_watermark_seconds")
    check(pipeline_watermark is not None and abs(pipeline_watermark - watermark) < 60,
          "sluice_pipeline_watermark_seconds follows the source's", pipeline_watermark)
    lag = value(samples, "sluice_event_time_lag_seconds", source="quotes")
    check(lag is not None and lag > 0, "sluice_event_time_lag_seconds is reported", lag)
    fill = value(samples, "sluice_queue_fill_ratio")
    check(fill is not None and 0 <= fill <= 1, "sluice_queue_fill_ratio is within 0..1", fill)
    check(value(samples, "sluice_pipeline_running") == 1, "sluice_pipeline_running is 1")
    for s in idle:
        s.close()

    finished = wait_for(lambda: "finished:" in stderr_text(), 40)
    check(finished, "the run finishes while connections come and go")
    summary = re.search(r"finished: (\d+) rows? in, (\d+) rows? out \(windows: (\d+), raw: (\d+)\), "
                        r"(\d+) dead letters?", stderr_text())
    check(summary is not None, "the summary line is printed", stderr_text()[-400:])
    status, text = get(base + "/metrics")
    check(status == 200, "/metrics still answers during --http-linger")
    final, _ = parse(text)
    if summary:
        rows_in, rows_out, windows, raw, dead = map(int, summary.groups())
        check(value(final, "sluice_source_rows_total", source="quotes") == rows_in,
              "source rows equal the summary's rows in",
              (value(final, "sluice_source_rows_total", source="quotes"), rows_in))
        check(value(final, "sluice_sink_rows_total", sink="windows") == windows
              and value(final, "sluice_sink_rows_total", sink="raw") == raw,
              "sink rows equal the summary's", (windows, raw))
        letters = sum(v for (name, _), v in final.items() if name == "sluice_dead_letters_total")
        check(letters == dead and dead > 0, "dead letters equal the summary's", (letters, dead))
        check(value(final, "sluice_dead_letters_total", stage="pipeline[0] derive", reason="error") == dead,
              "dead letters are labelled by stage and reason")
        stage_in = value(final, "sluice_stage_rows_in_total", stage="pipeline[0] derive")
        stage_out = value(final, "sluice_stage_rows_out_total", stage="pipeline[0] derive")
        check(stage_in == rows_in and stage_out == rows_in - dead and stage_out == raw,
              "stage rows in/out add up (in = out + dead letters)", (stage_in, stage_out))
        check(value(final, "sluice_stage_rows_out_total", stage="pipeline[1] window") == windows,
              "the window's rows out are what its sink wrote")
        check(value(final, "sluice_state_bytes", stage="pipeline[1] window") == 0,
              "state is 0 after the bounded run flushed its windows")
    check(value(final, "sluice_pipeline_running") == 0, "sluice_pipeline_running is 0 after")
    check(get(base + "/ready")[0] == 503, "/ready answers 503 after the run")
    check(get(base + "/health")[0] == 200, "/health still answers 200")
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True) if shutil.which("promtool") else None
    if lint is not None:
        check(lint.returncode == 0, "promtool check metrics finds no problem",
              lint.stdout + lint.stderr)

    if prometheus is not None:
        got = wait_for(lambda: prometheus_query(prometheus_port, "sluice_source_rows_total")
                       and float(prometheus_query(prometheus_port,
                                                  "sluice_source_rows_total")[0]["value"][1])
                       == (int(summary.group(1)) if summary else -1), 20)
        check(got, "a real Prometheus scraped the final sluice_source_rows_total")
        up = prometheus_query(prometheus_port, "up")
        check(up and up[0]["value"][1] == "1", "Prometheus sees the target up", up)
        histogram = prometheus_query(
            prometheus_port, "histogram_quantile(0.99, sluice_batch_duration_seconds_bucket)")
        check(bool(histogram), "histogram_quantile works on sluice_batch_duration_seconds")
        prometheus.terminate()
        prometheus.wait(10)
    run.send_signal(2)  # ends the linger
    check(run.wait(20) == 0, "sluice exits 0 after the linger is cut short by SIGINT")


def case_checkpoint_metrics():
    port = free_port()
    pipeline = os.path.join(WORK, "checkpointed.yaml")
    write_pipeline(pipeline, 2000, "3s",
                   f"checkpoint: {{dir: '{WORK}/state', interval: 500ms}}\n", parts=True)
    run = start([pipeline, "--http", f"127.0.0.1:{port}", "--http-linger", "20s"])
    base = f"http://127.0.0.1:{port}"
    check(wait_for(lambda: "finished:" in stderr_text(), 40), "the checkpointed run finishes")
    samples, _ = parse(get(base + "/metrics")[1])
    checkpoints = value(samples, "sluice_checkpoints_total")
    check(checkpoints is not None and checkpoints >= 2, "checkpoints are counted", checkpoints)
    check((value(samples, "sluice_checkpoint_duration_seconds_count") or 0) >= 2,
          "the checkpoint duration histogram counts them")
    age = value(samples, "sluice_last_checkpoint_age_seconds")
    check(age is not None and 0 <= age < 30, "sluice_last_checkpoint_age_seconds is given", age)
    run.send_signal(2)
    check(run.wait(20) == 0, "sluice exits 0")


cases = sys.argv[3:] or ["case_bad_address", "case_address_in_use", "case_live_run",
                         "case_checkpoint_metrics"]
for name in cases:
    began = time.time()
    for leftover in ["raw.jsonl", "windows.jsonl", "dead.jsonl"]:
        if os.path.exists(os.path.join(WORK, leftover)):
            os.remove(os.path.join(WORK, leftover))
    globals()[name]()
    print(f"   ({name}: {time.time() - began:.1f} s)")
print(f"{passes} passed, {failures} failed")
sys.exit(1 if failures else 0)

"""GET /v1/rules with If-None-Match: `pwguard serve` against nginx serving the exported bundle.

One run on this machine, same load generator (wrk), same request (a revalidation that
answers 304, which is what a fleet polling every minute mostly sends), loopback only:

    python -m bench server      # or: make bench

Prints both throughputs, their ratio (goal >= 0.15), p99 latencies and how many
browsers one node keeps in sync at a 60-second poll (= requests/s x 60).
Knobs: PWGUARD_BENCH_SECONDS (default 10), PWGUARD_BENCH_CONNECTIONS (64),
PWGUARD_BENCH_WORKERS (uvicorn workers, default 1; nginx gets as many),
PWGUARD_BENCH_ROUNDS (interleaved runs of each, best kept; default 2).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.serve import ROOT, RunningServer, free_port, wait_until

GOAL = 0.15
POLL_SECONDS = 60


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx/3xx responses and socket errors


def parse_wrk(text: str) -> WrkResult:
    """Requests/sec, the 99% latency, totals and errors from `wrk --latency` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    total = re.search(r"(\d+) requests in", text)
    if not (rps and p99 and total):
        raise RuntimeError(f"cannot read wrk output:\n{text}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", text))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return WrkResult(float(rps.group(1)), float(p99.group(1)) * scale, int(total.group(1)), bad)


def wrk(url: str, etag: str, seconds: int, connections: int) -> WrkResult:
    """Run wrk (1 thread: the 2 cores are shared with the server) and parse it."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
           "-H", f"If-None-Match: {etag}", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return parse_wrk(out.stdout)


def revalidates(url: str) -> str:
    """Check that the URL answers 200 then 304 on its ETag; return the ETag."""
    first = httpx.get(url, timeout=5)
    first.raise_for_status()
    etag = first.headers["etag"]
    second = httpx.get(url, headers={"If-None-Match": etag}, timeout=5)
    if second.status_code != 304:
        raise RuntimeError(f"{url} answered {second.status_code} to If-None-Match {etag}")
    return etag


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location = /v1/rules {{
            default_type application/json;
            add_header Cache-Control "no-cache" always;
            add_header Access-Control-Allow-Origin "*" always;
            etag on;
        }}
    }}
}}
"""


class Nginx:
    """nginx in the foreground on a free loopback port, everything in a temp folder."""

    def __init__(self, root: Path, tmp: Path, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, root=root, port=self.port, workers=workers))
        self.proc = subprocess.Popen(
            ["nginx", "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )

        def up() -> bool:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = (tmp / "error.log").read_text() if (tmp / "error.log").exists() else ""
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {err}{log}")
            try:
                return httpx.get(self.url + "/v1/rules", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 15, "nginx")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def run() -> None:
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found: install Debian's nginx-light and wrk "
                               "(tools/system-deps.sh bench)")
    seconds = int(os.environ.get("PWGUARD_BENCH_SECONDS", "10"))
    connections = int(os.environ.get("PWGUARD_BENCH_CONNECTIONS", "64"))
    workers = int(os.environ.get("PWGUARD_BENCH_WORKERS", "1"))
    rounds = int(os.environ.get("PWGUARD_BENCH_ROUNDS", "2"))
    rules = Path(os.environ.get("PWGUARD_BENCH_RULES", ROOT / "rules"))
    if not any(rules.glob("*.yaml")):
        rules = ROOT / "tests" / "server_cases" / "good"

    with tempfile.TemporaryDirectory(prefix="pwguard-bench-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)  # nginx workers run as an unprivileged user
        server = RunningServer(tmp / "server", rules, env={
            "PWGUARD_ENV": "production",
            "PWGUARD_LOG_LEVEL": "warning",
            "PWGUARD_WORKERS": str(workers),
        })
        server.start()
        nginx: Nginx | None = None
        try:
            export = tmp / "export"
            subprocess.run(
                [sys.executable, "-m", "pwguard.cli", "export", "--from-db", "--out", str(export)],
                env=server.env, cwd=server.workdir, check=True, capture_output=True, timeout=60,
            )
            for d in (export, export / "v1"):
                os.chmod(d, 0o755)
            (tmp / "nginx").mkdir()
            nginx = Nginx(export, tmp / "nginx", workers)
            served = httpx.get(server.url + "/v1/rules", timeout=5).content
            if httpx.get(nginx.url + "/v1/rules", timeout=5).content != served:
                raise RuntimeError("nginx does not serve the same bytes as the server")
            ours_tag = revalidates(server.url + "/v1/rules")
            theirs_tag = revalidates(nginx.url + "/v1/rules")
            runs: dict[str, list[WrkResult]] = {"ours": [], "theirs": []}
            for _ in range(rounds):  # interleaved, so a burst of other load hits both
                runs["ours"].append(wrk(server.url + "/v1/rules", ours_tag, seconds, connections))
                runs["theirs"].append(wrk(nginx.url + "/v1/rules", theirs_tag, seconds,
                                          connections))
            ours = max(runs["ours"], key=lambda r: r.rps)
            theirs = max(runs["theirs"], key=lambda r: r.rps)
        finally:
            if nginx is not None:
                nginx.stop()
            server.stop()

    ratio = ours.rps / theirs.rps if theirs.rps else 0.0
    print(f"GET /v1/rules with If-None-Match (304), wrk -t1 -c{connections} {seconds}s, "
          f"best of {rounds} interleaved runs, {os.cpu_count()} CPUs, {workers} worker(s) each, "
          "loopback")
    for name, r in (("pwguard serve", ours), ("nginx static", theirs)):
        print(f"  {name:<14} {r.rps:>10,.0f} req/s   p99 {r.p99_ms:7.2f} ms   "
              f"{r.requests:,} requests, {r.bad} errors   "
              f"-> {r.rps * POLL_SECONDS:,.0f} browsers per node at a {POLL_SECONDS}-s poll")
    verdict = "meets" if ratio >= GOAL else "BELOW"
    print(f"  ratio pwguard/nginx {ratio:.3f} ({verdict} the goal {GOAL})")
    bad_ours = sum(r.bad for r in runs["ours"])
    bad_theirs = sum(r.bad for r in runs["theirs"])
    if bad_ours or bad_theirs:
        raise RuntimeError(f"errors under load: pwguard {bad_ours}, nginx {bad_theirs}")

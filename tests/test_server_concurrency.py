"""The real server under concurrent publishing and reading, and after a SIGKILL mid-publish."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from pwguard.api.signing import verify_bundle
from tests.serve import start_server, wait_until
from tests.server_cases import GOOD_DIR, check_bundle, etag_for, variant

PUBLISHERS = 20
READERS = 200

pytestmark = pytest.mark.slow


async def _publish(client: httpx.AsyncClient, n: int) -> httpx.Response:
    return await client.put("/v1/admin/rules", content=variant(1000 + n).encode(),
                            headers={"Content-Type": "application/yaml"})


async def _read(client: httpx.AsyncClient, public_key: str, done: asyncio.Event,
                problems: list[str]) -> int:
    """GET /v1/rules until the publishers are done; check every answer; return how many."""
    etag, count = None, 0
    while True:
        finished = done.is_set()
        headers = {"If-None-Match": etag} if etag and count % 2 else {}
        resp = await client.get("/v1/rules", headers=headers)
        count += 1
        if resp.status_code == 304:
            if resp.headers.get("etag") is None or resp.content:
                problems.append(f"bad 304: {resp.headers}")
        elif resp.status_code == 200:
            try:
                payload = verify_bundle(resp.content, public_key)
            except ValueError as exc:
                problems.append(f"bad bundle: {exc}")
            else:
                if resp.headers["etag"] != etag_for(payload["version"], public_key):
                    problems.append(f"ETag {resp.headers['etag']} != body {payload['version']}")
            etag = resp.headers.get("etag")
        else:
            problems.append(f"GET /v1/rules answered {resp.status_code}: {resp.text[:200]}")
        if finished:
            return count


async def _storm(url: str, token: str, public_key: str) -> tuple[list[httpx.Response], int,
                                                                  list[str]]:
    limits = httpx.Limits(max_connections=PUBLISHERS + READERS + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        done, problems = asyncio.Event(), []
        readers = [asyncio.create_task(_read(client, public_key, done, problems))
                   for _ in range(READERS)]
        published = await asyncio.gather(*(_publish(client, n) for n in range(PUBLISHERS)))
        done.set()
        reads = sum(await asyncio.gather(*readers))
    return list(published), reads, problems


def test_20_concurrent_publishers_and_200_readers_get_no_5xx_and_matching_etags(tmp_path):
    with start_server(tmp_path, rules_dir=GOOD_DIR) as srv:
        published, reads, problems = asyncio.run(
            _storm(srv.url, srv.admin_token, srv.public_key))
        assert problems == []
        assert [r.status_code for r in published] == [201] * PUBLISHERS, \
            [r.text for r in published if r.status_code != 201]
        assert reads >= READERS * 2
        new = {r.json()["version"] for r in published}
        assert len(new) == PUBLISHERS
        listed = httpx.get(srv.url + "/v1/admin/versions", headers=srv.admin_headers).json()
        assert new <= {v["version"] for v in listed} and len(listed) == PUBLISHERS + 1
        active = [v["version"] for v in listed if v["active"]]
        assert len(active) == 1 and active[0] in new
        final = check_bundle(httpx.get(srv.url + "/v1/rules"), srv.public_key)
        assert final["version"] == active[0]
        assert "Traceback" not in srv.log()


def test_server_killed_during_publishing_restarts_on_the_same_database_with_a_valid_bundle(
    tmp_path: Path,
):
    with start_server(tmp_path, rules_dir=GOOD_DIR) as srv:
        acked: list[str] = []
        lock, stop = threading.Lock(), threading.Event()

        def publisher(worker: int) -> None:
            with httpx.Client(base_url=srv.url, headers=srv.admin_headers, timeout=30) as c:
                for i in range(10_000):
                    if stop.is_set():
                        return
                    text = variant(worker * 100_000 + i)
                    try:
                        resp = c.put("/v1/admin/rules", content=text.encode())
                    except httpx.HTTPError:
                        return  # the server died under us
                    with lock:
                        if resp.status_code == 201:
                            acked.append(resp.json()["version"])

        threads = [threading.Thread(target=publisher, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        wait_until(lambda: len(acked) >= 8, 60, "8 acknowledged publishes")
        srv.kill()  # SIGKILL with publishes in flight
        stop.set()
        for t in threads:
            t.join(60)
        last_acked = acked[-1]

        db = tmp_path / "pwguard.db"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

        srv.start()
        resp = httpx.get(srv.url + "/v1/rules")
        payload = check_bundle(resp, srv.public_key)
        listed = httpx.get(srv.url + "/v1/admin/versions", headers=srv.admin_headers).json()
        stored = {v["version"] for v in listed}
        assert set(acked) <= stored  # every acknowledged publish survived the crash
        assert payload["version"] in stored
        # active is the last acknowledged publish, or one committed after it whose answer was lost
        newer = {v["version"] for v in listed if v["created_at"] >= next(
            x["created_at"] for x in listed if x["version"] == last_acked)}
        assert payload["version"] in newer
        assert httpx.get(srv.url + "/healthz").json()["active_version"] == payload["version"]


def test_two_worker_processes_all_serve_a_publish_within_the_check_interval(tmp_path):
    env = {"PWGUARD_WORKERS": "2", "PWGUARD_ACTIVE_CHECK_SECONDS": "0.5"}
    with start_server(tmp_path, rules_dir=GOOD_DIR, env=env) as srv:
        resp = httpx.put(srv.url + "/v1/admin/rules", content=variant(51).encode(),
                         headers=srv.admin_headers)
        assert resp.status_code == 201
        new = etag_for(resp.json()["version"], srv.public_key)

        def everyone_serves_it() -> bool:
            # fresh connections, so the kernel spreads them over both workers
            tags = {httpx.get(srv.url + "/v1/rules").headers["etag"] for _ in range(20)}
            return tags == {new}

        wait_until(everyone_serves_it, 10, "both workers to serve the new version")
        check_bundle(httpx.get(srv.url + "/v1/rules"), srv.public_key)
        pids = set(re.findall(r"Started server process \[(\d+)\]", srv.log()))
        assert len(pids) == 2, srv.log()


def test_an_idle_keep_alive_connection_outlives_uvicorns_default_of_5_seconds(tmp_path):
    """A reverse proxy keeps idle connections to the server open up to 60 s and sends the
    next request on one: a server that closes them sooner (uvicorn's default, 5 s) races it
    and the proxy answers 502 now and then. The idle time is the condition under test."""
    with (start_server(tmp_path, rules_dir=GOOD_DIR) as srv,
          socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock):
        request = b"GET /healthz HTTP/1.1\r\nHost: pwguard\r\n\r\n"
        sock.sendall(request)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(6)
        sock.setblocking(False)
        try:
            closed = sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            closed = False  # nothing to read: the connection is open
        assert not closed, "the server closed an idle keep-alive connection within 6 s"
        sock.setblocking(True)
        sock.sendall(request)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")

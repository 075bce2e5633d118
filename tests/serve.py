"""Run the REAL `pwguard serve` in a subprocess for tests (and the browser rig).

    from tests.serve import start_server

    with start_server(tmp_path, rules_dir=Path("rules")) as srv:
        httpx.get(srv.url + "/v1/rules")          # srv.url has no trailing slash
        srv.admin_token, srv.public_key            # bearer token; base64 raw Ed25519 key
        srv.restart()                              # stop (SIGTERM) and start on the same DB/port
        srv.kill(); srv.start()                    # SIGKILL, then start again

Each server gets a temp SQLite database, a temp signing key (PWGUARD_SIGNING_KEY) and
a free loopback port; `start_server` waits for /healthz to answer 200 (polling, with a
timeout) and stops the server on exit. Extra PWGUARD_* settings go in `env`.
`server_fixture(...)` makes a pytest fixture of it at any scope.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from pwguard.api.signing import generate_key_file, load_private_key, public_key_b64

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0


def default_rules_plus(more_rules: str) -> str:
    """rules/zoho.yaml with these YAML rule items (indented as its `rules:` list) added."""
    return (ROOT / "rules" / "zoho.yaml").read_text("utf-8").rstrip("\n") + "\n" + more_rules


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)  # polling interval of a condition wait, not a wait for an event
        delay = min(delay * 2, 0.2)


class RunningServer:
    """A `pwguard serve` subprocess on a temp database; see the module docstring."""

    def __init__(
        self, workdir: Path, rules_dir: Path | None, env: Mapping[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_hex(16)
        self.database_url = f"sqlite:///{workdir / 'pwguard.db'}"
        key_path = workdir / "signing.key"
        key = generate_key_file(key_path) if not key_path.exists() else None
        self.public_key = public_key_b64(key or load_private_key(str(key_path)))
        self.env: dict[str, str] = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PWGUARD_")},
            "PWGUARD_ENV": "dev",
            "PWGUARD_DATABASE_URL": self.database_url,
            "PWGUARD_SIGNING_KEY": str(key_path),
            "PWGUARD_ADMIN_TOKEN": self.admin_token,
            "PWGUARD_RULES_DIR": str(rules_dir.resolve()) if rules_dir else "",
            "PWGUARD_HOST": "127.0.0.1",
            "PWGUARD_PORT": str(self.port),
            "PWGUARD_LOG_LEVEL": "info",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT / "server"), os.environ.get("PYTHONPATH", "")) if p
            ),
            **(env or {}),
        }
        self.admin_token = self.env["PWGUARD_ADMIN_TOKEN"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "server.log"

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def publish(self, ruleset: str) -> httpx.Response:
        """PUT /v1/admin/rules with this YAML ruleset, as an administrator (the caller checks
        the answer)."""
        return httpx.put(f"{self.url}/v1/admin/rules", content=ruleset.encode(),
                         headers={**self.admin_headers, "Content-Type": "application/yaml"},
                         timeout=30)

    def log(self) -> str:
        """The server's stdout and stderr so far."""
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    def start(self, timeout: float = START_TIMEOUT) -> RunningServer:
        """Start the subprocess and wait until /healthz answers 200."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pwguard.cli", "serve"],
            cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        proc = self.proc

        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"pwguard serve exited with {proc.returncode}:\n{self.log()[-4000:]}"
                )
            try:
                return httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(healthy, timeout, f"{self.url}/healthz")
        except TimeoutError as exc:
            self.kill()
            raise TimeoutError(f"{exc}\n{self.log()[-4000:]}") from None
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait (SIGKILL if it does not stop in time)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the server (a crash): nothing gets to clean up."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(15)

    def restart(self) -> RunningServer:
        """Stop gracefully and start again on the same database, key and port."""
        self.stop()
        return self.start()


@contextmanager
def start_server(
    tmp_path: Path,
    rules_dir: Path | None = ROOT / "rules",
    env: Mapping[str, str] | None = None,
) -> Iterator[RunningServer]:
    """Run `pwguard serve` for the duration of the `with` block (see the module docstring)."""
    server = RunningServer(Path(tmp_path), rules_dir, env)
    try:
        yield server.start()
    finally:
        server.stop()


def server_fixture(
    scope: Any = "module",
    rules_dir: Path | None = ROOT / "rules",
    env: Mapping[str, str] | None = None,
) -> Any:
    """A pytest fixture yielding a RunningServer: `rules_server = server_fixture("session")`."""

    @pytest.fixture(scope=scope)
    def _fixture() -> Iterator[RunningServer]:
        with tempfile.TemporaryDirectory(prefix="pwguard-serve-") as tmp, start_server(
            Path(tmp), rules_dir, env
        ) as server:
            yield server

    return _fixture

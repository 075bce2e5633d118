"""Property-based run of schemathesis against the real server's /openapi.json: no 5xx anywhere."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.serve import start_server
from tests.server_cases import GOOD_DIR

pytestmark = pytest.mark.slow

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.mark.timeout(240)
def test_schemathesis_finds_no_server_error(tmp_path):
    if not SCHEMATHESIS.exists():
        pytest.fail(f"{SCHEMATHESIS} missing: install the test extras (make install)")
    with start_server(tmp_path / "srv", rules_dir=GOOD_DIR) as srv:
        proc = subprocess.run(
            [str(SCHEMATHESIS), "run", srv.url + "/openapi.json",
             "--checks", "not_a_server_error",
             "-H", f"Authorization: Bearer {srv.admin_token}",
             "--max-examples", "40", "--seed", "1", "--workers", "1",
             "--generation-database", "none", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=200,
        )
        metrics = httpx.get(srv.url + "/metrics").text
        log = srv.log()
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "No issues found" in proc.stdout, proc.stdout[-3000:]
    generated = re.search(r"(\d+) generated", proc.stdout)
    assert generated and int(generated.group(1)) >= 100, proc.stdout[-2000:]
    # the server saw the requests and answered none of them with a 5xx
    assert re.search(r'route="/v1/admin/rules",method="PUT",status="4\d\d"', metrics)
    assert not re.search(r'status="5\d\d"} [1-9]', metrics), metrics
    assert "Traceback" not in log

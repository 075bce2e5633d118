"""bench/server.py reads wrk's report correctly (the benchmark itself runs under `make bench`)."""

from __future__ import annotations

import pytest
from bench.server import parse_wrk

REPORT = """\
Running 10s test @ http://127.0.0.1:8080/v1/rules
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.20ms  40.00ms   90.00%
    Req/Sec    20.50k     1.10k   22.00k    80.00%
  Latency Distribution
     50%    2.90ms
     75%    3.40ms
     90%    4.10ms
     99%  {p99}
  204000 requests in 10.00s, 30.00MB read
{extra}Requests/sec:  20400.12
Transfer/sec:      3.00MB
"""


@pytest.mark.parametrize(("p99", "ms"), [("812.00us", 0.812), ("7.25ms", 7.25), ("1.50s", 1500.0)])
def test_parse_wrk_reads_throughput_and_p99_in_any_unit(p99, ms):
    result = parse_wrk(REPORT.format(p99=p99, extra=""))
    assert result.rps == 20400.12 and result.requests == 204000 and result.bad == 0
    assert result.p99_ms == pytest.approx(ms)


def test_parse_wrk_counts_non_2xx_3xx_answers_and_socket_errors_as_bad():
    extra = ("  Socket errors: connect 0, read 2, write 0, timeout 3\n"
             "  Non-2xx or 3xx responses: 7\n")
    assert parse_wrk(REPORT.format(p99="5.00ms", extra=extra)).bad == 12


def test_parse_wrk_refuses_output_it_cannot_read():
    with pytest.raises(RuntimeError, match="cannot read wrk output"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")

"""Run the benchmarks; each prints its figures and its ratio to a baseline run beside it."""

from __future__ import annotations

import importlib
import sys

# name -> module exposing run() -> None
BENCHES = {
    "scan": "bench.scan",  # pwguard scan vs a bare lxml parse; lint wall time
    "server": "bench.server",  # GET /v1/rules (If-None-Match) vs nginx on the export, wrk
    "extension": "bench.extension",  # frames with an unblocked box; page-script overhead
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}",
            file=sys.stderr,
        )
        return 2
    failed = []
    for name in names:
        print(f"== {name} ==", flush=True)
        try:
            importlib.import_module(BENCHES[name]).run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            print(f"{name}: FAILED: {type(exc).__name__}: {exc}", flush=True)
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

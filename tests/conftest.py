"""Shared fixtures: the Zoho HTTPS mock, real browsers with the extension, a real server.

    zoho         the HTTPS mock (tests/zoho_mock.py), session-wide; records cleared per test
    browser      a real browser with the extension loaded, parametrized chromium/firefox
    chromium     the Chromium one only;  firefox: the Firefox one only
    bundled      ``browser`` with no server configured (the bundled rules in force)
    rules_server a real `pwguard serve` subprocess on a free port and a temp SQLite file

Browsers start once per session (each on first use) and give every test a fresh tab.
Every test using a browser fixture is marked ``browser``; deselect with ``-m "not browser"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browsers import EXTENSION_DIR, Browser, ChromiumBrowser, FirefoxBrowser
from tests.zoho_mock import ALL_HOSTS, ZohoMock

BROWSER_FIXTURES = ("browser", "chromium", "firefox")


def _extension_dir() -> Path:
    return Path(os.environ.get("PWGUARD_EXTENSION_DIR", EXTENSION_DIR)).resolve()


# test id -> "chromium" | "firefox", for the closing count of tests that drove the real extension
_ENGINE_OF: dict[str, str] = {}


def _engine(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("browser") in ("chromium", "firefox"):
        return str(callspec.params["browser"])
    names = getattr(item, "fixturenames", ())
    return next((name for name in ("chromium", "firefox") if name in names), None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in BROWSER_FIXTURES):
            item.add_marker(pytest.mark.browser)
        engine = _engine(item)
        if engine:
            _ENGINE_OF[item.nodeid] = engine


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests drove the real extension in each real browser."""
    counts = {"chromium": {"passed": 0, "failed": 0}, "firefox": {"passed": 0, "failed": 0}}
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            engine = _ENGINE_OF.get(getattr(report, "nodeid", ""))
            if engine and getattr(report, "when", "call") == "call":
                counts[engine][outcome] += 1
    if any(sum(c.values()) for c in counts.values()):
        terminalreporter.write_sep("-", "real extension in real browsers against the Zoho mock")
        for engine, c in counts.items():
            passed, failed = c["passed"], c["failed"]
            terminalreporter.write_line(f"{engine}: {passed} tests passed and {failed} failed")


@pytest.fixture(scope="session")
def extension_dir() -> Path:
    """The unpacked extension the browsers load (PWGUARD_EXTENSION_DIR, else extension/)."""
    return _extension_dir()


@pytest.fixture(scope="session")
def zoho_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZohoMock]:
    mock = ZohoMock(tmp_path_factory.mktemp("zoho-mock")).start()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def zoho(zoho_server: ZohoMock) -> ZohoMock:
    """The HTTPS mock of Zoho Accounts with an empty request record."""
    zoho_server.clear()
    return zoho_server


def _session_browser(kind: type[Browser], tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[Browser]:
    workdir = tmp_path_factory.mktemp(kind.name)
    engine = kind(_extension_dir(), workdir, ALL_HOSTS)  # type: ignore[call-arg]
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="session")
def chromium_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    yield from _session_browser(ChromiumBrowser, tmp_path_factory)


@pytest.fixture(scope="session")
def firefox_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    yield from _session_browser(FirefoxBrowser, tmp_path_factory)


@pytest.fixture
def chromium(chromium_session: Browser) -> Browser:
    """Chromium with the extension, on a fresh tab."""
    chromium_session.reset()
    return chromium_session


@pytest.fixture
def firefox(firefox_session: Browser) -> Browser:
    """Firefox with the extension, on a fresh tab."""
    firefox_session.reset()
    return firefox_session


@pytest.fixture(params=["chromium", "firefox"])
def browser(request: pytest.FixtureRequest) -> Browser:
    """Each browser in turn (the same test body runs in both), on a fresh tab."""
    engine: Browser = request.getfixturevalue(f"{request.param}_session")
    engine.reset()
    return engine


@pytest.fixture
def bundled(browser: Browser) -> Browser:
    """``browser`` with no rules server configured: the bundled rules are in force."""
    if browser.extension_status()["source"] != "bundled":
        browser.configure()
    assert browser.extension_status()["source"] == "bundled"
    return browser


@pytest.fixture
def rules_server(tmp_path: Path) -> Iterator[object]:
    """A real `pwguard serve` on a free port with a temp SQLite database (tests/serve.py)."""
    from tests.serve import start_server

    with start_server(tmp_path / "serve") as server:
        yield server

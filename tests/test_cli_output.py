"""Every `pwguard` command that prints to stdout survives a stdout it cannot write to.

`pwguard keygen --out DIR | head -3` or `pwguard schema > /full/disk/file` died with a
BrokenPipeError or OSError traceback: only lint and scan wrote through `write_output`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pwguard.api import publish
from pwguard.cli import COMMANDS
from tests.serve import ROOT

EXE = Path(sys.executable).with_name("pwguard")


def commands(tmp: Path) -> list[list[str]]:
    """Commands that succeed and print to stdout (each run in a fresh folder `tmp`)."""
    rules = str(ROOT / "rules")
    return [
        ["--help"],
        ["--version"],
        ["keygen", "--out", str(tmp / "keys")],
        ["schema"],
        ["bundle", "--rules", rules, "--out", str(tmp / "bundle.json")],
        ["export", "--rules", rules, "--out", str(tmp / "public")],
    ]


def run(args: list[str], tmp: Path, stdout: object) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PWGUARD_") and k != "PYTHONUNBUFFERED"}  # as users run it
    env["PWGUARD_DATABASE_URL"] = f"sqlite:///{tmp / 'pwguard.db'}"  # export's dev key lives there
    return subprocess.Popen([str(EXE), *args], cwd=tmp, env=env, stdout=stdout,  # type: ignore[arg-type]
                            stderr=subprocess.PIPE)


@pytest.mark.parametrize("index", range(6), ids=lambda i: commands(Path("."))[i][0])
def test_a_full_disk_on_stdout_is_said_in_one_line_without_a_traceback(tmp_path, index):
    args = commands(tmp_path)[index]
    with open("/dev/full", "wb") as full, run(args, tmp_path, full) as proc:
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        code = proc.wait(120)
    assert "Traceback" not in err
    name = "pwguard" if args[0].startswith("--") else f"pwguard {args[0]}"
    assert f"{name}: cannot write the output: No space left on device" in err.splitlines()
    assert code == 2


@pytest.mark.parametrize("index", range(6), ids=lambda i: commands(Path("."))[i][0])
def test_a_reader_that_stops_reading_ends_the_command_quietly(tmp_path, index):
    args = commands(tmp_path)[index]
    # a pipe nobody reads: the first write meets EPIPE (as `| head -0` would)
    read, write = os.pipe()
    os.close(read)
    try:
        with run(args, tmp_path, write) as proc:
            assert proc.stderr is not None
            err = proc.stderr.read().decode()
            code = proc.wait(120)
    finally:
        os.close(write)
    assert "Traceback" not in err
    assert code == 2


def test_keygen_that_cannot_print_still_wrote_the_key_pair_and_says_where(tmp_path):
    with open("/dev/full", "wb") as full, \
            run(["keygen", "--out", str(tmp_path / "keys")], tmp_path, full) as proc:
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert proc.wait(120) == 2
    public = tmp_path / "keys" / "pwguard-signing.pub"
    assert (tmp_path / "keys" / "pwguard-signing.key").is_file() and public.is_file()
    assert f"the key pair is written: the public key is in {public}" in err


class FullStdout:
    """A stdout on a full disk."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        raise OSError(28, "No space left on device")

    def fileno(self) -> int:
        raise ValueError("not a real file")


def test_publish_that_cannot_print_its_success_says_so_without_a_traceback(monkeypatch, capsys):
    url = "https://rules.example.com/v1/admin/rules"
    answer = httpx.Response(201, json={"version": "0123456789abcdef", "created": True},
                            request=httpx.Request("PUT", url))
    monkeypatch.setattr(sys, "stdout", FullStdout())
    assert publish.report(answer, url) == 2
    assert capsys.readouterr().err == \
        "pwguard publish: cannot write the output: No space left on device\n"


def limited(max_file_bytes: int) -> None:
    """preexec_fn: files may grow to `max_file_bytes` (as on a nearly full disk); a write past
    it fails with EFBIG instead of killing the process (SIGXFSZ ignored)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))


def test_a_bundle_that_cannot_be_written_whole_leaves_the_previous_one_intact(tmp_path):
    # `out.write_bytes(data)` truncated extension/rules.bundled.json first: on a full disk the
    # good bundle the extension ships became a few KiB of invalid JSON
    out = tmp_path / "rules.bundled.json"
    good = b'{"format": 1, "rules": [], "version": "0123456789abcdef"}\n'
    out.write_bytes(good)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWGUARD_")}
    proc = subprocess.run([str(EXE), "bundle", "--rules", str(ROOT / "rules"), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: limited(4096))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"pwguard bundle: cannot write {out}: ")
    assert out.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_a_key_pair_keygen_cannot_write_whole_leaves_no_empty_key_behind(tmp_path):
    # the private key file was created, then its write failed: an empty pwguard-signing.key
    # stayed, which the next keygen refused to replace ("exists; keep it (bundles signed with it
    # stay valid)") and serve could not read
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWGUARD_")}
    proc = subprocess.run([str(EXE), "keygen", "--out", str(tmp_path / "k")], env=env,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: limited(64))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert list((tmp_path / "k").iterdir()) == []
    proc = subprocess.run([str(EXE), "keygen", "--out", str(tmp_path / "k")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_command_help_that_cannot_be_written_is_said_and_exits_2(tmp_path, name):
    # `pwguard lint --help >/dev/full` exited 0: argparse ignores a failed write of its help
    with open("/dev/full", "wb") as full, run([name, "--help"], tmp_path, full) as proc:
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        code = proc.wait(120)
    assert (code, err) == (2, f"pwguard {name}: cannot write the output: No space left on device\n")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_command_help_is_written_to_stdout_and_exits_0(tmp_path, name):
    with run([name, "--help"], tmp_path, subprocess.PIPE) as proc:
        out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (0, b"")
    assert out.startswith(f"usage: pwguard {name}".encode())

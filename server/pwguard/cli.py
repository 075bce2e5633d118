"""The `pwguard` command: one entry point, each subcommand lives in the module that owns it."""

from __future__ import annotations

import errno
import importlib
import sys
from collections.abc import Sequence

from pwguard.cliargs import write_output

# subcommand -> (module, one-line help). Each module exposes `main(argv: list[str]) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "lint": ("pwguard.lint.cli", "check rule files (exit 0 clean, 1 findings, 2 usage error)"),
    "scan": ("pwguard.scan", "list a saved page's checkboxes and the rules covering them"),
    "schema": ("pwguard.rules.schema", "print the JSON Schema of rule files"),
    "bundle": ("pwguard.rules.bundle", "write the rules the extension ships (rules.bundled.json)"),
    "serve": ("pwguard.api.serve", "run the rules server"),
    "keygen": ("pwguard.api.keys", "write an Ed25519 key pair for signing bundles"),
    "export": ("pwguard.api.export", "write the signed bundle as static files for a CDN"),
    "publish": ("pwguard.api.publish", "push a rules folder to a running server"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: pwguard COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `pwguard COMMAND --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(usage(), file=sys.stderr)
        return 2
    if args[0] in {"-h", "--help", "help"}:
        return write_output(usage() + "\n", "pwguard") or 0
    if args[0] == "--version":
        from pwguard import __version__

        return write_output(f"pwguard {__version__}\n", "pwguard") or 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"pwguard: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        code: int = module.main(rest)
    except KeyboardInterrupt:  # Ctrl-C (a publish waiting as a busy server advised, a long
        # scan): one line, not a traceback; the shell's code for SIGINT
        print(f"pwguard {name}: interrupted"
              + ("; a PUT may have reached the server: GET /v1/admin/versions shows the active "
                 "version" if name == "publish" else ""), file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        # pathlib's exists()/is_dir() raise it (only a missing file is False), from the many
        # places each command looks at a path it was given: one line, not a traceback
        print(f"pwguard {name}: path too long: {shown_path(exc.filename)} (a name holds at most "
              "255 bytes, a path 4096): check the path given", file=sys.stderr)
        return 2
    return code


def shown_path(filename: object) -> str:
    """A path for a message, its middle cut when it is long."""
    text = str(filename or "")
    if len(text) <= 120:
        return repr(text)
    return f"{text[:60]!r}...{text[-40:]!r} ({len(text)} characters)"


if __name__ == "__main__":
    raise SystemExit(main())

"""`make dist`: the store packages of the extension, in dist/.

    dist/pwguard-chrome-<version>.zip     upload to the Chrome Web Store
    dist/pwguard-firefox-<version>.zip    upload to addons.mozilla.org (built by `web-ext build`)
    dist/pwguard-firefox-<version>.xpi    the same bytes, for self-hosting once signed

Both come from one staging copy of extension/ whose manifest has no `key`: the key only
pins the id of the unpacked extension (tests, enterprise policy for a self-hosted build);
the Chrome Web Store refuses manifests that carry one and assigns its own.
The Chrome zip is reproducible (sorted entries, fixed timestamps).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXTENSION = REPO / "extension"
WEB_EXT = REPO / "node_modules" / ".bin" / "web-ext"
# files of extension/ that are for developers, not for the browser
EXCLUDE = {"README.md"}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def package_files(src: Path) -> list[Path]:
    return sorted(p for p in src.rglob("*")
                  if p.is_file() and p.relative_to(src).as_posix() not in EXCLUDE
                  and not any(part.startswith(".") for part in p.relative_to(src).parts))


def stage(src: Path, dest: Path) -> dict[str, object]:
    """Copy the package files to dest with the manifest's `key` removed; return the manifest."""
    for path in package_files(src):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    manifest: dict[str, object] = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("key", None)
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    return manifest


def chrome_zip(staged: Path, out: Path) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in package_files(staged):
            info = zipfile.ZipInfo(path.relative_to(staged).as_posix(), FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())


def firefox_zip(staged: Path, out_dir: Path, name: str) -> Path:
    if not WEB_EXT.exists():
        raise FileNotFoundError(f"{WEB_EXT} is missing: run `make node` first")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [str(WEB_EXT), "build", "--source-dir", str(staged), "--artifacts-dir", tmp,
             "--filename", name, "--overwrite-dest", "--no-config-discovery"],
            capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"web-ext build failed:\n{proc.stdout}\n{proc.stderr}")
        out = out_dir / name
        shutil.copyfile(Path(tmp) / name, out)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tools/dist.py", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(REPO / "dist"), help="output folder (default: dist)")
    parser.add_argument("--source", default=str(EXTENSION), help="extension folder")
    args = parser.parse_args(argv)
    src, out_dir = Path(args.source), Path(args.out)
    if not (src / "manifest.json").is_file():
        print(f"tools/dist.py: {src}/manifest.json not found; pass --source", file=sys.stderr)
        return 2
    if not (src / "rules.bundled.json").is_file():
        print(f"tools/dist.py: {src}/rules.bundled.json is missing: run `make bundle`",
              file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "extension"
        manifest = stage(src, staged)
        version = manifest["version"]
        chrome = out_dir / f"pwguard-chrome-{version}.zip"
        chrome_zip(staged, chrome)
        try:
            firefox = firefox_zip(staged, out_dir, f"pwguard-firefox-{version}.zip")
        except (FileNotFoundError, RuntimeError) as exc:
            print(f"tools/dist.py: {exc}", file=sys.stderr)
            return 1
        xpi = firefox.with_suffix(".xpi")
        shutil.copyfile(firefox, xpi)
    for path in (chrome, firefox, xpi):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Download one Kafka Connect plugin archive, check its pinned SHA-256, unpack it into a plugin directory.

    fetch_plugin.py --sha256-name ORACLE_CDC_SHA256 URL SHA256 DEST

Used by compose/connect/Dockerfile in place of the deprecated confluent-hub CLI (Confluent Hub zips) and for the
Maven Central tar.gz. Nothing is unpacked unless the checksum matches; an empty or malformed checksum fails the build
with the name of the build argument to set. Unpacking refuses members that would land outside DEST.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path


class FetchError(Exception):
    pass


def download(url: str, target: Path, timeout: float = 120.0) -> str:
    """Stream url into target; the SHA-256 of what was written."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _inside(dest: Path, name: str) -> Path:
    path = (dest / name).resolve()
    if not path.is_relative_to(dest.resolve()):
        raise FetchError(f"archive member {name!r} would be written outside {dest}")
    return path


def unpack(archive: Path, name: str, dest: Path) -> list[str]:
    """Unpack into dest; the top-level entries it created."""
    dest.mkdir(parents=True, exist_ok=True)
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            members = zf.namelist()
            for m in members:
                _inside(dest, m)
            zf.extractall(dest)
    elif name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive, "r:gz") as tf:
            members = tf.getnames()
            for m in members:
                _inside(dest, m)
            if hasattr(tarfile, "data_filter"):
                tf.extractall(dest, filter="data")
            else:  # Python < 3.11.4 has no extraction filters: refuse what the data filter would not vouch for
                for member in tf.getmembers():
                    if not (member.isfile() or member.isdir()):
                        raise FetchError(f"archive member {member.name!r} is a link or device; refused")
                tf.extractall(dest)  # every member checked above
    else:
        raise FetchError(f"{name}: not a .zip or .tar.gz archive")
    return sorted({m.split("/", 1)[0] for m in members if m.strip("/")})


def fetch(url: str, sha256: str, dest: Path, sha256_name: str) -> list[str]:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise FetchError(
            f"build argument {sha256_name} must be the SHA-256 of {url} (64 lower-case hex), got "
            f"{'nothing' if not sha256 else repr(sha256)}; compose/README.md 'Pinned downloads' says how to get it"
        )
    name = url.rsplit("/", 1)[-1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / name
        try:
            actual = download(url, archive)
        except OSError as exc:
            raise FetchError(f"download of {url} failed: {exc}") from exc
        if actual != sha256:
            raise FetchError(f"{url}: SHA-256 is {actual}, expected {sha256} ({sha256_name}); nothing installed")
        staging = Path(tmp) / "unpacked"
        tops = unpack(archive, name, staging)
        dest.mkdir(parents=True, exist_ok=True)
        for top in tops:
            if (dest / top).exists():
                raise FetchError(f"{dest / top} already exists; two archives unpack to the same directory")
            shutil.move(str(staging / top), dest / top)
    return tops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sha256-name", required=True, help="the build argument holding the checksum (for errors)")
    parser.add_argument("url")
    parser.add_argument("sha256")
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    try:
        tops = fetch(args.url, args.sha256, args.dest, args.sha256_name)
    except FetchError as exc:
        print(f"fetch_plugin: {exc}", file=sys.stderr)
        return 1
    print(f"fetch_plugin: {args.url} -> {', '.join(str(args.dest / t) for t in tops)} (SHA-256 verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

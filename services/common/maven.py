"""Which Maven resolves the local broker's jars: the ``mvn`` on PATH, else Apache Maven's binary distribution,
downloaded once from Maven Central into ``<cache_dir>/maven/apache-maven-<version>`` and checked against the SHA-512
published beside it.

Maven runs only on the first start (the jars are cached afterwards), so a machine without it downloads about 9 MB
once. An ``mvn`` on PATH always wins, so a machine with Maven installed (CI) behaves as before.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

VERSION = "3.9.16"
CENTRAL = "https://repo.maven.apache.org/maven2"


class MavenDownloadError(RuntimeError):
    """Maven's distribution could not be downloaded, verified or unpacked; the message says which and why."""


@dataclass(frozen=True)
class Maven:
    mvn: str  # the executable to run
    source: str  # "PATH" or "download"


def dist_url(version: str = VERSION, base: str = CENTRAL) -> str:
    return f"{base.rstrip('/')}/org/apache/maven/apache-maven/{version}/apache-maven-{version}-bin.tar.gz"


def home(cache_dir: Path, version: str = VERSION) -> Path:
    """Where the downloaded distribution lives (its ``bin/mvn`` runs)."""
    return Path(cache_dir) / "maven" / f"apache-maven-{version}"


def find_mvn(
    cache_dir: Path, version: str = VERSION, which: Callable[[str], str | None] = shutil.which
) -> Maven | None:
    """The ``mvn`` on PATH, else a distribution downloaded earlier, else None (``download`` fetches one)."""
    path = which("mvn")
    if path is not None:
        return Maven(path, "PATH")
    mvn = home(cache_dir, version) / "bin" / "mvn"
    return Maven(str(mvn), "download") if mvn.is_file() else None


def published_sha512(text: str) -> str:
    """The digest of a ``.sha512`` file: Maven Central publishes the bare hex, some mirrors ``<hex>  <file>``."""
    words = text.split()
    digest = words[0].lower() if words else ""
    if len(digest) != 128 or any(c not in "0123456789abcdef" for c in digest):
        raise MavenDownloadError(f"the published SHA-512 is not 128 hex digits: {text[:200]!r}")
    return digest


def download(cache_dir: Path, version: str = VERSION, base: str = CENTRAL, timeout_s: float = 60.0) -> Maven:
    """Download, verify and unpack Apache Maven ``version`` into ``cache_dir``; ``MavenDownloadError`` on failure,
    leaving nothing behind but what an earlier success left."""
    target = home(cache_dir, version)
    url = dist_url(version, base)
    partial = target.with_name(f"{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        started = time.monotonic()
        log.info("Maven is not on PATH: downloading Apache Maven %s from %s (once)", version, url)
        expected = published_sha512(_get(f"{url}.sha512", timeout_s).decode("ascii", "replace"))
        archive = partial / "dist.tar.gz"
        size, actual = _save(url, archive, timeout_s)
        if actual != expected:
            raise MavenDownloadError(
                f"{url} does not match its published SHA-512 (got {actual[:16]}…, published {expected[:16]}…): "
                "refused; try again later, or install Maven"
            )
        log.info(
            "downloaded %.1f MB in %.1f s, SHA-512 verified; unpacking into %s",
            size / 1e6,
            time.monotonic() - started,
            target,
        )
        _unpack(archive, partial, f"apache-maven-{version}")
        shutil.rmtree(target, ignore_errors=True)
        (partial / f"apache-maven-{version}").rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return Maven(str(target / "bin" / "mvn"), "download")


def _get(url: str, timeout_s: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise MavenDownloadError(f"could not download {url}: {exc}") from exc


def _save(url: str, path: Path, timeout_s: float) -> tuple[int, str]:
    """Stream ``url`` into ``path``; returns its size and SHA-512."""
    digest = hashlib.sha512()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(path, "wb") as out:
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except (urllib.error.URLError, OSError) as exc:
        raise MavenDownloadError(f"could not download {url}: {exc}") from exc
    return size, digest.hexdigest()


def _unpack(archive: Path, into: Path, top: str) -> None:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")  # no absolute paths, no links out of ``into``
    except (tarfile.TarError, OSError) as exc:
        raise MavenDownloadError(f"could not unpack {archive.name}: {exc}") from exc
    if not (into / top / "bin" / "mvn").is_file():
        raise MavenDownloadError(f"the archive has no {top}/bin/mvn")

"""Which Maven resolves the broker's jars (services/common/maven.py): PATH first, then a distribution downloaded
once and checked against its published SHA-512. The download is served by a local HTTP server, never the internet."""

import hashlib
import io
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from services.common import maven
from services.common.maven import Maven, MavenDownloadError

VERSION = "3.9.99"  # a version that exists only on the local server


def distribution(version: str = VERSION) -> bytes:
    """A tiny apache-maven-<version>-bin.tar.gz with an executable bin/mvn."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        script = b"#!/bin/sh\necho fake maven\n"
        info = tarfile.TarInfo(f"apache-maven-{version}/bin/mvn")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


@pytest.fixture
def central(tmp_path):
    """A local HTTP server laid out like Maven Central; returns (base URL, the folder of the distribution)."""
    root = tmp_path / "central"
    folder = root / "org" / "apache" / "maven" / "apache-maven" / VERSION
    folder.mkdir(parents=True)
    archive = distribution()
    (folder / f"apache-maven-{VERSION}-bin.tar.gz").write_bytes(archive)
    (folder / f"apache-maven-{VERSION}-bin.tar.gz.sha512").write_text(hashlib.sha512(archive).hexdigest())

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


def test_the_url_is_maven_centrals_layout():
    assert maven.dist_url("3.9.16") == (
        "https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/3.9.16/apache-maven-3.9.16-bin.tar.gz"
    )


def test_an_mvn_on_path_wins_then_a_downloaded_one_then_none(tmp_path):
    cache = tmp_path / "cache"
    assert maven.find_mvn(cache, VERSION, which=lambda name: "/usr/bin/mvn") == Maven("/usr/bin/mvn", "PATH")
    assert maven.find_mvn(cache, VERSION, which=lambda name: None) is None
    mvn = maven.home(cache, VERSION) / "bin" / "mvn"
    mvn.parent.mkdir(parents=True)
    mvn.write_text("#!/bin/sh\n")
    assert maven.find_mvn(cache, VERSION, which=lambda name: None) == Maven(str(mvn), "download")
    assert maven.find_mvn(cache, VERSION, which=lambda name: "/usr/bin/mvn").source == "PATH"


def test_a_download_that_matches_its_published_sha512_is_unpacked_into_the_cache(tmp_path, central):
    base, _ = central
    cache = tmp_path / "cache"
    got = maven.download(cache, VERSION, base=base)
    mvn = Path(got.mvn)
    assert got.source == "download" and mvn == cache / "maven" / f"apache-maven-{VERSION}" / "bin" / "mvn"
    assert mvn.read_text() == "#!/bin/sh\necho fake maven\n" and mvn.stat().st_mode & 0o100
    assert sorted(p.name for p in (cache / "maven").iterdir()) == [f"apache-maven-{VERSION}"]  # no partial left
    assert maven.find_mvn(cache, VERSION, which=lambda name: None) == got


def test_a_download_that_does_not_match_its_sha512_is_refused_and_leaves_nothing(tmp_path, central):
    base, folder = central
    (folder / f"apache-maven-{VERSION}-bin.tar.gz.sha512").write_text(hashlib.sha512(b"something else").hexdigest())
    cache = tmp_path / "cache"
    with pytest.raises(MavenDownloadError) as raised:
        maven.download(cache, VERSION, base=base)
    assert "does not match its published SHA-512" in str(raised.value) and "refused" in str(raised.value)
    assert list((cache / "maven").iterdir()) == []
    assert maven.find_mvn(cache, VERSION, which=lambda name: None) is None


def test_a_missing_or_malformed_checksum_is_an_error_too(tmp_path, central):
    base, folder = central
    checksum = folder / f"apache-maven-{VERSION}-bin.tar.gz.sha512"
    checksum.write_text("not a digest")
    with pytest.raises(MavenDownloadError, match="not 128 hex digits"):
        maven.download(tmp_path / "cache", VERSION, base=base)
    checksum.unlink()
    with pytest.raises(MavenDownloadError, match=r"could not download .*\.sha512: HTTP Error 404"):
        maven.download(tmp_path / "cache", VERSION, base=base)


def test_the_published_sha512_may_name_its_file():
    digest = "ab" * 64
    assert maven.published_sha512(f"{digest.upper()}  apache-maven-3.9.16-bin.tar.gz\n") == digest

"""The floor wallboard's static files as the API serves them: routes, content types, self-contained, no secrets.

What the page's script does (one EventSource on ``v1/stream``, no polling, no request off the API's origin,
colours and formats) is checked in a real Chromium by tests/e2e/test_wallboard.py, not by reading its source.
"""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.readmodel import ReadModel
from services.common.settings import Settings

WALLBOARD = Path(__file__).resolve().parents[3] / "services" / "api" / "wallboard"
TOKEN = "s3cret-wallboard-token"
CONTENT_TYPES = {"stylesheet": ("text/css",), "script": ("text/javascript", "application/javascript")}
# an absolute URL to some host: a CDN, a web font, an analytics beacon
EXTERNAL = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.I)


class Links(HTMLParser):
    """(kind, URL) of every resource a page references: stylesheets, scripts, icons, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("href"):
            self.links.append((a.get("rel") or "link", a["href"]))
        elif tag == "script" and a.get("src"):
            self.links.append(("script", a["src"]))
        elif tag in ("img", "iframe", "source", "audio", "video") and a.get("src"):
            self.links.append((tag, a["src"]))


def links(html: str) -> list[tuple[str, str]]:
    parser = Links()
    parser.feed(html)
    return parser.links


def served(client) -> dict[str, bytes]:
    """The page and every file it references, as served (data: URLs are inline, nothing to fetch)."""
    page = client.get("/")
    out = {"/": page.content}
    for _, href in links(page.text):
        if not href.startswith("data:"):
            path = urlsplit(urljoin("http://testserver/", href)).path
            response = client.get(path)
            assert response.status_code == 200, path
            out[path] = response.content
    return out


@pytest.fixture
def client():
    model = ReadModel()
    model.caught_up = True
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        yield c


def test_page_at_root_is_html_and_its_stylesheet_and_script_are_served(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    found = {kind for kind, _ in links(response.text)}
    assert {"stylesheet", "script"} <= found
    for kind, href in links(response.text):
        if kind not in CONTENT_TYPES:
            continue
        # relative, so the page also works behind a path prefix (a reverse proxy's /wallboard-tv/)
        assert not urlsplit(href).scheme and not href.startswith("/"), href
        assert urljoin("http://tv.example/floor/", href).startswith("http://tv.example/floor/")
        asset = client.get(urlsplit(urljoin("http://testserver/", href)).path)
        assert asset.status_code == 200, href
        assert asset.headers["content-type"].split(";")[0].strip() in CONTENT_TYPES[kind], href


@pytest.mark.parametrize("name, content_type", [
    ("wallboard.css", "text/css"),
    ("wallboard.js", ("text/javascript", "application/javascript")),
    ("index.html", "text/html"),
])
def test_assets_are_served_with_their_content_types(client, name, content_type):
    response = client.get(f"/wallboard/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0].strip() in (
        content_type if isinstance(content_type, tuple) else (content_type,))
    assert response.content == (WALLBOARD / name).read_bytes()


def test_unknown_asset_is_404(client):
    assert client.get("/wallboard/nope.js").status_code == 404


def test_page_and_assets_need_no_token_when_the_api_does():
    """The page holds no secret, so it loads even with DESKPULSE_API_TOKENS set; the figures stay protected."""
    with TestClient(create_app(Settings(api_tokens=TOKEN), read_model=ReadModel(), consume=False)) as c:
        bodies = served(c)
        assert len(bodies) >= 3  # the page, its stylesheet, its script
        assert c.get("/v1/summary").status_code == 401
        for path, body in bodies.items():
            assert TOKEN.encode() not in body, path  # the server never writes its token into what it serves


def test_what_is_served_needs_no_other_host(client):
    """A floor TV may have no internet access: no CDN, web font or other absolute URL in the page or its assets
    (the page's actual requests in a browser are checked in tests/e2e/test_wallboard.py)."""
    for path, body in served(client).items():
        text = body.decode()
        assert not EXTERNAL.search(text), (path, EXTERNAL.search(text))
        assert "@import" not in text, path
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", text):  # CSS url(): inline data or a served file
            if not ref.startswith("data:"):
                assert client.get(urlsplit(urljoin(f"http://testserver{path}", ref)).path).status_code == 200, ref


def test_what_is_served_holds_no_credentials(client):
    for path, body in served(client).items():
        assert not re.search(rb"(token|secret|password)\s*[:=]\s*['\"][^'\"]+['\"]", body, re.I), path

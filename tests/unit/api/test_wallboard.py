"""The floor wallboard's static files: served by the API with the right content types, self-contained."""

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.readmodel import ReadModel
from services.common.settings import Settings

WALLBOARD = Path(__file__).resolve().parents[3] / "services" / "api" / "wallboard"


@pytest.fixture
def client():
    model = ReadModel()
    model.caught_up = True
    with TestClient(create_app(Settings(), read_model=model, consume=False)) as c:
        yield c


def test_page_at_root_is_html_and_links_its_assets(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="wallboard/wallboard.css"' in response.text
    assert 'src="wallboard/wallboard.js"' in response.text


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
    with TestClient(create_app(Settings(api_tokens="s3cret-token"), read_model=ReadModel(), consume=False)) as c:
        assert c.get("/").status_code == 200
        assert c.get("/wallboard/wallboard.js").status_code == 200
        assert c.get("/v1/summary").status_code == 401


def test_no_external_network_and_no_secrets_in_the_files():
    for path in WALLBOARD.iterdir():
        text = path.read_text()
        # no CDN, web font or any other absolute URL: a floor TV may have no internet access
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path.name
        assert "@import" not in text and "fonts.googleapis" not in text, path.name
        assert not re.search(r"(token|secret|password)\s*[:=]\s*['\"][^'\"]+['\"]", text, re.I), path.name


def test_page_uses_the_stream_not_polling():
    js = (WALLBOARD / "wallboard.js").read_text()
    assert "new EventSource(" in js and '"v1/stream?"' in js
    assert 'addEventListener("snapshot"' in js and 'addEventListener("update"' in js
    assert "setInterval(" in js and "fetch(" not in js and "XMLHttpRequest" not in js

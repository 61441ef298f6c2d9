"""The role pages' routes (routers/pages.py): templates given their subject and their way back to the root."""

import re

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.common.settings import Settings


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(api_tokens="secret"), consume=False)) as c:
        yield c


def body_data(html: str) -> dict[str, str]:
    body = re.search(r"<body [^>]*>", html).group(0)
    return dict(re.findall(r'data-(\w+)="([^"]*)"', body))


@pytest.mark.parametrize(("path", "page", "scope", "root"), [
    ("/director", "director", "all", ""),
    ("/team/zendesk/billing", "team", "queue/zendesk/billing", "../../"),
    ("/agent/zendesk/42", "agent", "agent/zendesk/42", "../../"),
    # an id holding a slash, sent encoded: the browser's directory is still /agent/zendesk/
    ("/agent/zendesk/a%2Fb", "agent", "agent/zendesk/a/b", "../../"),
    ("/agent/zendesk/a/b", "agent", "agent/zendesk/a/b", "../../../"),
])
def test_a_page_knows_its_subject_and_its_way_back_to_the_root(client, path, page, scope, root):
    response = client.get(path)  # pages hold no figures: open even with tokens on
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert body_data(response.text) == {"page": page, "scope": scope, "root": root}
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert assets and all(a.startswith(f"{root}pages/") or a in (f"{root}director", root, "data:,") for a in assets)
    for asset in (a for a in assets if a.startswith(root + "pages/")):
        assert client.get("/" + asset[len(root):]).status_code == 200, asset


def test_a_subject_is_escaped_into_the_page(client):
    html = client.get('/agent/zendesk/x"><script>alert(1)</script>').text
    assert "<script>alert(1)" not in html
    assert body_data(html)["scope"] == "agent/zendesk/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


def test_docs_come_from_the_projects_own_swagger_ui(client):
    html = client.get("/docs").text
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", html)
    assert "openapi.json" in urls and "pages/vendor/swagger-ui/swagger-ui-bundle.js" in urls
    assert not [u for u in urls if "://" in u], urls  # nothing from another host
    assert client.get("/pages/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not served


def test_what_the_pages_serve_holds_no_credentials(client):
    for path in ("/director", "/team/zendesk/billing", "/agent/zendesk/42"):
        html = client.get(path).text
        root = body_data(html)["root"]
        files = {path: html.encode()} | {
            a: client.get("/" + a[len(root):]).content
            for a in re.findall(r'(?:src|href)="([^"]+)"', html) if a.startswith(root + "pages/")
        }
        for name, body in files.items():
            assert not re.search(rb"(token|secret|password)\s*[:=]\s*['\"][^'\"]+['\"]", body, re.I), name

"""End to end: the director's, the team manager's and the agent's pages in a real headless Chromium, through the
real pipeline, with bearer tokens on.

Three days of synthetic contacts and a shift of agents go in through ingest. The director's page opened with
``?token=`` must drop the token from its address, list every team worst first with the API's figures, and lead
by a link to the worst team's page; that page must list the team's agents with the API's figures and lead to an
agent's page, which must show the agent's state and open contacts as the API does, and follow the agent's next
state change live. Every request stays on the API's host. Screenshots: ``test-artifacts/director.png``,
``team.png``, ``agent.png``; load times and sizes: ``test-artifacts/pages-load.txt``. The team page's Waiting
tile leads to the contacts waiting, as the API lists them (the drill-down).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from services.api.app import create_app
from services.common.events import from_epoch_ms
from services.common.settings import Settings
from services.demo.synthetic import agent_shifts, history
from tests.support import recompute
from tests.support.browser import (
    ARTIFACTS,
    By,
    console_errors,
    requests_made,
    screenshot,
    served,
    text,
    wait_for,
)
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

BASE = 1_795_000_000_000  # 2026-11-18T09:46:40Z
DAY = 86_400_000
TOKEN = "pages-test-token"
SLA = Path(__file__).resolve().parents[2] / "deploy" / "sla.example.yaml"


@pytest.fixture
def pipeline(kafka_bootstrap, unique_names, tmp_path):
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs",
                    extra_env={"DESKPULSE_SLA_CONFIG": str(SLA), "DESKPULSE_API_TOKENS": TOKEN})
    try:
        yield pipe
    finally:
        pipe.stop_cleanly()


def settled(client: httpx.Client, api: str, created: int, timeout_s: float = 90) -> dict:
    """/v1/teams once every contact is counted and two reads a second apart agree."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        summary = client.get(f"{api}/v1/summary").json()
        teams = client.get(f"{api}/v1/teams").json()
        figures = [(t["scope"], t["queue"], t["previous"]) for t in teams["items"]]  # not "to": time runs on
        if summary["contacts"]["created"] == created and figures == last:
            return teams
        last = figures
        time.sleep(1)
    raise AssertionError(f"the API never settled: {summary['contacts']}")


def shown_percent(cell: str) -> float | None:
    first = cell.splitlines()[0]
    return None if first == "—" else float(first.rstrip("%")) / 100


def shown_seconds(cell: str) -> int | None:
    first = cell.splitlines()[0]
    if first == "—":
        return None
    parts = [int(p) for p in first.split(":")]
    return parts[-1] + 60 * parts[-2] + (3600 * parts[0] if len(parts) == 3 else 0)


def same_percent(cell: str, rate: float | None) -> bool:
    shown = shown_percent(cell)
    return shown is None if rate is None else shown is not None and abs(shown - rate) <= 0.0005 + 1e-9


def cells(driver, row_selector: str) -> list[str]:
    return [td.text.strip() for td in driver.find_elements(By.CSS_SELECTOR, f"{row_selector} td")]


def load_figures(driver) -> tuple[float, int]:
    """(ms from navigation to the load event, bytes transferred for the page and its files)."""
    return driver.execute_script(
        "var nav = performance.getEntriesByType('navigation')[0];"
        "var bytes = nav.transferSize + performance.getEntriesByType('resource')"
        "  .filter(function (r) { return r.initiatorType !== 'xmlhttprequest' && r.initiatorType !== 'fetch'"
        "    && r.name.indexOf('/v1/') < 0; }).reduce(function (s, r) { return s + r.transferSize; }, 0);"
        "return [nav.loadEventEnd, bytes];")


def test_director_team_and_agent_pages_show_the_apis_figures_and_lead_to_each_other(pipeline, browser):
    pipeline.start()
    rng = random.Random(21)
    end = BASE + 3 * DAY
    docs = history(rng, BASE, contacts=360, mean_gap_ms=3 * DAY // 360) + agent_shifts(rng, end - 3_600_000, end)
    docs.sort(key=lambda d: d["occurred_at"])
    created = recompute.figures(docs)["all"]["created"]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    loads = {}
    with httpx.Client(timeout=10) as ingest, httpx.Client(timeout=10, headers=headers) as client:
        for start in range(0, len(docs), 200):
            assert pipeline.post(ingest, docs[start:start + 200]).status_code in (200, 202)
        teams = settled(client, pipeline.api_url, created)
        api = pipeline.api_url

        # -- the director's page: every team, worst first, the API's figures; the token out of the address
        browser.get(f"{api}/director?token={TOKEN}")
        browser.execute_script("window.__loadedOnce = true")
        assert "token" not in browser.current_url
        wait_for(browser, "every team", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#teams tbody tr"))
                 == teams["total"])
        loads["director"] = load_figures(browser)
        rows = browser.find_elements(By.CSS_SELECTOR, "#teams tbody tr")
        assert [r.get_attribute("data-row") for r in rows] == [t["scope"] for t in teams["items"]]  # worst first
        for item in teams["items"]:
            shown = cells(browser, f'#teams tbody tr[data-row="{item["scope"]}"]')
            assert shown[1] == item["id"] and shown[2] == item["platform"]
            assert int(shown[5]) == item["queue"]["volume"]["resolved"], item["scope"]
            assert same_percent(shown[6], item["queue"]["quality"]["csat"]), (item["scope"], shown[6])
            fr = item["queue"]["quality"]["first_response_average_seconds"]
            assert abs(shown_seconds(shown[7]) - fr) <= 1, (item["scope"], shown[7], fr)
            status = item["queue"]["status"]["csat"]
            csat_cell = browser.find_element(By.CSS_SELECTOR, f'#teams tr[data-row="{item["scope"]}"] [data-figure="csat"]')
            assert csat_cell.get_attribute("data-status") == (status or "none")
        platforms = sorted({t["platform"] for t in teams["items"]})
        wait_for(browser, "every platform", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#platforms tbody tr"))
                 == len(platforms))
        summary = client.get(f"{api}/v1/summary?window=today").json()
        wait_for(browser, "today's figures", lambda d: text(d, '#now-tiles [data-kpi="Created today"] .value')
                 == str(summary["contacts"]["created"]))
        wait_for(browser, "the charts", lambda d: len(d.find_elements(By.CSS_SELECTOR, ".uplot")) == 3)
        screenshot(browser, "director")

        # -- the worst team's page, by its link
        worst = teams["items"][0]
        browser.find_element(By.CSS_SELECTOR, f'#teams tr[data-row="{worst["scope"]}"] a').click()
        wait_for(browser, "the team page", lambda d: urlsplit(d.current_url).path
                 == f"/team/{worst['platform']}/{worst['id']}")
        team = client.get(f"{api}/v1/queues/{worst['platform']}/{worst['id']}/team").json()
        queue = client.get(f"{api}/v1/queues/{worst['platform']}/{worst['id']}?window=today").json()
        wait_for(browser, "every agent", lambda d: len(d.find_elements(By.CSS_SELECTOR, "#agents tbody tr"))
                 == len(team["agents"]) > 0)
        loads["team"] = load_figures(browser)
        for row in team["agents"]:
            shown = cells(browser, f'#agents tbody tr[data-row="{row["scope"]}"]')
            assert shown[0] == row["agent"] and int(shown[3]) == row["volume"]["resolved"], row["agent"]
            assert int(shown[4]) == row["volume"]["first_responses"] and int(shown[5]) == row["volume"]["replies"]
            assert same_percent(shown[6], row["quality"]["csat"]), (row["agent"], shown[6])
            assert same_percent(shown[10], row["quality"]["complaint_rate"]), (row["agent"], shown[10])
        wait_for(browser, "the waiting tile", lambda d: text(d, '#now-tiles [data-kpi="Waiting"] .value')
                 == str(queue["live"]["waiting"]))
        # the goal over a period of the example config, as the API judges it
        [goal] = team["period_goals"]
        wait_for(browser, "the goal over a period", lambda d: d.find_element(
            By.CSS_SELECTOR, f'#period-goals li[data-metric="{goal["metric"]}"]').get_attribute("data-status")
            == goal["status"])
        verdict = client.get(f"{api}/v1/queues/{worst['platform']}/{worst['id']}/outliers").json()["verdict"]
        wait_for(browser, "the verdict", lambda d: text(d, "#verdict .verdict")
                 == ("no finding" if verdict == "none" else verdict))
        training = client.get(f"{api}/v1/queues/{worst['platform']}/{worst['id']}/training").json()
        wait_for(browser, "who needs training on what", lambda d: len(d.find_elements(
            By.CSS_SELECTOR, "#training tbody tr")) == len({r["agent"] for c in training["categories"] for r in c["agents"]}))
        assert len(browser.find_elements(By.CSS_SELECTOR, "#training li[data-metric]")) == len(training["flagged"])
        for category in training["categories"]:
            for row in category["agents"]:
                shown = browser.find_element(By.CSS_SELECTOR, f'#training tr[data-row="agent/{worst["platform"]}/'
                                             f'{row["agent"]}"] td[data-category="{category["category"]}"]')
                assert shown.text.splitlines()[0].split()[-2] == str(row["volume"]["resolved"])
                flags = {m for m, j in row["judged"].items() if j["outlier"]}
                assert shown.get_attribute("data-flagged") == (" ".join(sorted(flags)) or "none")
        wait_for(browser, "the charts", lambda d: len(d.find_elements(By.CSS_SELECTOR, ".uplot")) == 3)
        # -- the drill-down: the Waiting tile leads to the contacts waiting, as the API lists them
        def waiting_rows():
            return client.get(f"{api}/v1/queues/{worst['platform']}/{worst['id']}/contacts",
                              params={"state": "waiting", "limit": 100}).json()

        # contact rows go out on their own timer, after the figures: wait until the API holds every one of them
        wait_for(browser, "the contact rows of the waiting tile's contacts",
                 lambda d: waiting_rows()["total"] == queue["live"]["waiting"], timeout=45)
        waiting = waiting_rows()
        browser.find_element(By.CSS_SELECTOR, '#now-tiles .tile[data-kpi="Waiting"]').click()

        def listed(d):
            """The list's total and its contacts, read in one script (the list is drawn again every 10 s)."""
            total, ids = d.execute_script(
                "var p = document.querySelector('#contacts p');"
                "return [p && p.dataset.total, Array.from("
                "document.querySelectorAll('#contacts td[data-col=\"contact\"]'), function (td) { return td.textContent; })];")
            return total, sorted(ids)

        wait_for(browser, "the waiting contacts", lambda d: listed(d)
                 == (str(waiting["total"]), sorted(i["contact_id"] for i in waiting["items"])), timeout=45)
        assert waiting["total"] == queue["live"]["waiting"]  # the tile's figure and the contacts behind it agree
        browser.find_element(By.CSS_SELECTOR, '#contacts-states button[data-state="open"]').click()

        def open_total():
            return client.get(f"{api}/v1/queues/{worst['platform']}/{worst['id']}/contacts",
                              params={"state": "open", "limit": 1}).json()["total"]

        # the list is read again every 10 s, so it follows rows that arrive after the click
        wait_for(browser, "the open contacts", lambda d: d.find_element(By.CSS_SELECTOR, "#contacts p")
                 .get_attribute("data-total") == str(open_total()), timeout=45)
        screenshot(browser, "team")

        # -- the busiest agent's page, by its link
        agent_row = team["agents"][0]
        browser.find_element(By.CSS_SELECTOR, f'#agents tr[data-row="{agent_row["scope"]}"] a').click()
        wait_for(browser, "the agent page", lambda d: urlsplit(d.current_url).path
                 == "/" + agent_row["scope"])
        agent = client.get(f"{api}/v1/agents/{agent_row['scope'].split('/', 1)[1]}?window=today").json()
        wait_for(browser, "the agent's open contacts",
                 lambda d: text(d, '#now-tiles [data-kpi="Open contacts"] .value') == str(agent["live"]["open"]))
        wait_for(browser, "the agent's state",
                 lambda d: d.find_element(By.ID, "state").get_attribute("data-state") == (agent["agent"]["state"] or ""))
        mine = browser.find_element(By.CSS_SELECTOR, f'.team[data-queue="{worst["scope"]}"] tr[data-figure="csat"]')
        you = mine.find_elements(By.TAG_NAME, "td")[1].text
        assert same_percent(you, agent_row["quality"]["csat"]), you
        loads["agent"] = load_figures(browser)
        wait_for(browser, "the charts", lambda d: len(d.find_elements(By.CSS_SELECTOR, ".uplot")) == 3)

        # -- live: the agent's next state change reaches the page without a reload
        new_state = "away" if agent["agent"]["state"] != "away" else "available"
        platform, agent_id = agent_row["scope"].split("/")[1:]
        change = {"schema": "deskpulse.event.v1", "event_id": "pages-state-1", "type": "agent.state_changed",
                  "occurred_at": from_epoch_ms(end + 60_000), "platform": platform, "agent_id": agent_id,
                  "contact_id": None, "state": new_state}
        assert pipeline.post(ingest, [change]).status_code in (200, 202)
        wait_for(browser, f"the agent {new_state}", lambda d: d.find_element(By.ID, "state").get_attribute(
            "data-state") == new_state, timeout=30)
        screenshot(browser, "agent")

    fetched = [url for _, url in requests_made(browser) if urlsplit(url).scheme in ("http", "https")]
    assert fetched and all(url.startswith(f"{api}/") for url in fetched), fetched  # nothing from another host
    # the token travels in headers, and in the stream's URL only (EventSource cannot send headers): never again
    # in a page's address after the one the user opened
    assert fetched[0] == f"{api}/director?token={TOKEN}"
    assert not any("token=" in url and "/v1/stream" not in url for url in fetched[1:]), fetched
    assert console_errors(browser) == []
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "pages-load.txt").write_text("".join(
        f"{name}: load event {ms:.0f} ms, {size / 1024:.0f} KiB of page, scripts, styles and charts\n"
        for name, (ms, size) in loads.items()))


def test_docs_render_offline_from_the_projects_own_swagger_ui(browser):
    with served(create_app(Settings(), consume=False)) as url:
        browser.get(f"{url}/docs")
        routes = [p for p in client_paths(url) if p.startswith("/v1/")]
        wait_for(browser, "every route", lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
                 >= len(routes) > 10)
        shown = {e.text.strip() for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert set(routes) <= shown
        fetched = [u for _, u in requests_made(browser) if urlsplit(u).scheme in ("http", "https")]
        assert all(u.startswith(f"{url}/") for u in fetched), fetched
        assert console_errors(browser) == []
        browser.get("about:blank")


def client_paths(url: str) -> list[str]:
    return list(httpx.get(f"{url}/openapi.json").json()["paths"])


def test_each_page_asks_for_a_token_and_says_what_one_outside_its_reach_cannot_see(browser, tmp_path):
    """Roles in the browser: an agent's token opens the agent's own page, gets the refusal's reason on the team
    page (it names other agents), and a page opened without a token asks for one in a form (never in the URL);
    the director's page then downloads the goal attainment CSV with that token."""
    from services.api.export import COLUMNS
    from services.domain.slaconfig import SlaConfig
    from tests.support.access import CONFIG, GRANTS, ME, floor, tokens_file

    _, model = floor()
    settings = Settings(api_tokens_file=tokens_file(tmp_path / "tokens.yaml"))
    with served(create_app(settings, read_model=model, consume=False, sla=SlaConfig.load(CONFIG))) as url:
        browser.get(f"{url}/agent/zendesk/{ME}?token={GRANTS['agent'][0]}")
        wait_for(browser, "the agent's teams", lambda d: len(d.find_elements(By.CSS_SELECTOR, ".team")) >= 1)
        assert not browser.find_elements(By.ID, "access-notice")
        assert "token=" not in browser.current_url

        browser.get(f"{url}/team/zendesk/billing")  # the token stays in the tab, not in the address
        notice = wait_for(browser, "the refusal", lambda d: d.find_elements(By.ID, "access-notice"))[0]
        assert "Not in this token's reach" in notice.text and "not other agents'" in notice.text
        screenshot(browser, "pages-denied")

        browser.execute_script("sessionStorage.clear()")
        browser.get(f"{url}/director")
        form = wait_for(browser, "the token form", lambda d: d.find_elements(By.CSS_SELECTOR, "#access-notice form"))
        assert "needs a token" in text(browser, "#access-notice")
        form[0].find_element(By.TAG_NAME, "input").send_keys(GRANTS["director"][0])
        form[0].find_element(By.TAG_NAME, "button").click()
        wait_for(browser, "the teams", lambda d: not d.find_elements(By.ID, "access-notice")
                 and len(d.find_elements(By.CSS_SELECTOR, "#teams tbody tr")) == len(model.scopes("queue")))
        made = requests_made(browser)

        # the director's CSV export, fetched with the token the tab holds and saved as a file
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        browser.find_element(By.ID, "export-attainment").click()
        saved = wait_for(browser, "the CSV", lambda d: [p for p in downloads.glob("*.csv")])[0]
        wait_for(browser, "the whole file", lambda d: saved.read_text().count("\n") > len(model.scopes("queue")))
        assert saved.name == "attainment-week.csv"
        assert saved.read_text().splitlines()[0] == ",".join(COLUMNS)
        made += requests_made(browser)
        with_token = [u for _, u in made if "token" in u and "/v1/stream" not in u]
        assert with_token == [f"{url}/agent/zendesk/{ME}?token={GRANTS['agent'][0]}"]  # only the one the user opened
        browser.get("about:blank")

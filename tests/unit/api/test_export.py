"""Goal attainment as CSV (services/api/export.py, ``/v1/export/attainment.csv``): the team route's figures, row for
row, for the teams and agents the token sees."""

import csv
import io

from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.export import COLUMNS
from services.common.settings import Settings
from services.domain.slaconfig import SlaConfig
from tests.support.access import CONFIG, GRANTS, ME, floor, tokens_file


def rows_of(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def test_every_row_is_the_team_routes_figure_against_its_goal():
    _, model = floor()
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=SlaConfig.load(CONFIG))) as client:
        response = client.get("/v1/export/attainment.csv", params={"period": "week"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        rows = rows_of(response.text)
        teams = {q: client.get(f"/v1/queues/{q.split('/', 1)[1]}/team").json() for q in model.scopes("queue")}
        assert client.get("/v1/export/attainment.csv", params={"period": "month"}).status_code == 422
    goals = ("csat", "complaint_rate")  # the config's global goals: every queue has them
    assert len(rows) == sum(len(goals) * (1 + len(t["agents"])) for t in teams.values())
    for row in rows:
        team = teams[f"queue/{row['platform']}/{row['queue']}"]
        figures = team["queue"] if row["level"] == "team" else next(
            a for a in team["agents"] if a["agent"] == row["agent"])
        value = figures["quality"][row["figure"]]
        assert row["value"] == ("" if value is None else str(float(value) if value else 0.0)), row
        assert row["status"] == (figures["status"][row["figure"]] or ""), row
        assert int(row["resolved"]) == figures["volume"]["resolved"]
        assert row["goal"] == team["goals"][row["figure"]] and row["from"] == team["from"]


def test_an_agent_token_exports_its_teams_rows_and_its_own(tmp_path):
    _, model = floor()
    settings = Settings(api_tokens_file=tokens_file(tmp_path / "tokens.yaml"))
    with TestClient(create_app(settings, read_model=model, consume=False, sla=SlaConfig.load(CONFIG))) as client:
        mine = rows_of(client.get("/v1/export/attainment.csv",
                                  headers={"Authorization": f"Bearer {GRANTS['agent'][0]}"}).text)
        lead = rows_of(client.get("/v1/export/attainment.csv?platform=zendesk",
                                  headers={"Authorization": f"Bearer {GRANTS['team manager'][0]}"}).text)
    assert {r["agent"] for r in mine if r["level"] == "agent"} == {ME}
    assert {r["queue"] for r in mine} == {"billing", "technical", "vip"}
    assert {r["queue"] for r in lead} == {"billing"} and len({r["agent"] for r in lead if r["agent"]}) >= 3

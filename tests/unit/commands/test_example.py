"""``deskpulse example``: an example event with new ids at the pipeline's time (services/commands/example.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.commands.example import stamp
from services.common.events import parse_event, to_epoch_ms
from tests.support.cli import run

AS_OF = "2012-05-14T08:30:00.000Z"  # a replay's present, far behind the wall clock


@pytest.fixture
def api():
    """A loopback HTTP server answering ``/v1/summary`` as the API does during a replay."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"scope": "all", "as_of": AS_OF}).encode()
            self.send_response(200 if self.path.startswith("/v1/summary") else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_stamp_gives_new_ids_and_the_time():
    original = {"schema": "deskpulse.event.v1", "event_id": "e1", "type": "contact.created",
                "occurred_at": "2026-11-20T09:15:02.123Z", "platform": "zendesk", "contact_id": "35436"}
    out = stamp(original, 1_800_000_000_000, "x7")
    assert (out["event_id"], out["contact_id"], out["occurred_at"]) == ("e1-x7", "35436-x7", "2027-01-15T08:00:00.000Z")
    assert original["event_id"] == "e1"  # not modified
    agent = stamp({"schema": "deskpulse.event.v1", "event_id": "s1", "type": "agent.state_changed", "platform": "twilio",
                   "occurred_at": "2026-11-20T09:15:02.123Z", "agent_id": "WK01", "state": "away"}, 0, "y")
    assert agent["agent_id"] == "WK01" and "contact_id" not in agent  # an agent keeps its id: same agent, new state


def test_the_example_takes_the_pipelines_stream_time(api, capsys):
    code, out, err = run(["example", "ticket_created", "--api", api], capsys)
    event = parse_event(json.loads(out))
    assert code == 0 and event.occurred_at == AS_OF and event.contact_id.startswith("35436-")
    assert "the pipeline's stream time" in err


def test_without_an_api_the_example_is_stamped_now(capsys):
    from services.common.clock import wall_ms

    before = wall_ms()
    code, out, err = run(["example", "rated", "--api", "http://127.0.0.1:9"], capsys)
    assert code == 0 and before <= to_epoch_ms(json.loads(out)["occurred_at"]) <= wall_ms()
    assert "gave no stream time" in err


def test_bad_names_and_times_exit_2_with_what_is_known(capsys):
    code, _, err = run(["example", "nope"], capsys)
    assert code == 2 and "known: agent_reply, agent_state, minimal_status, rated, ticket_created" in err
    code, _, err = run(["example", "--at", "yesterday"], capsys)
    assert code == 2 and "--at must be now, stream or an RFC 3339 time" in err

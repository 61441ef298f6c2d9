"""Bad input against a real ingest process and the real broker: only 4xx with a clear detail, nothing published.

One ingest process (no aggregator, no API) with a webhook secret configured for every registered platform,
``DESKPULSE_MAX_BODY_BYTES`` lowered to 64 KiB and ``DESKPULSE_PUBLIC_BASE_URL`` set (Twilio and HubSpot sign
the public URL); the events and DLQ topics are created up front, as the aggregator would. Then:

1. generated input: schemathesis against ingest's own ``/openapi.json``, then against a copy of it that names
   the registered platforms and declares JSON / form / text bodies and the credential headers (ingest reads the
   raw request, so its own description declares none), so generated requests reach every adapter; and
   Hypothesis past the bearer check of the canonical endpoint (arbitrary bytes and JSON to the event parser).
   Never a 5xx.
2. for every adapter in the registry, one real-format delivery (a fixture from ``tests/fixtures/<platform>/``)
   sent as: validly signed but truncated in the middle; signed with another secret; without credentials; with
   a wrong content type; above the body limit, declared by ``Content-Length`` and chunked without it; and, for
   the schemes that sign a timestamp (Chatwoot, Front application webhooks, HubSpot v3, Zendesk), correctly
   signed but an hour old (a replayed delivery). Each answer must be the expected 4xx with a specific JSON
   ``detail``. A truncated delivery answered 400 rather than 401 also proves the test's own signing right:
   ingest checks the signature before it parses the body.
3. afterwards ingest is still running, ``/readyz`` is 200 and its log holds no traceback;
   ``deskpulse_webhooks_received_total`` grew by exactly one per case of step 2 under the expected ``outcome``;
   the events and DLQ topics, read from the beginning, hold zero records. As a control that this reader sees
   what ingest writes, one valid signed Zendesk delivery is then sent and exactly its two events arrive.

The signing helpers below follow the schemes in ``PLATFORMS.md`` (each adapter's unit tests check those against
the vendors' published vectors); they are deliberately not the adapters' own code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import inspect
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import hypothesis
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import strategies as st

from services.common.kafka import ensure_topics
from services.common.settings import Settings
from services.ingest import platforms
from services.ingest.platforms.base import Delivery
from tests.support.kafka import read_topic
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.reliability]

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 64 * 1024
PUBLIC = "https://hooks.deskpulse.test"
STALE_S = 3600.0  # far outside the default 300 s replay window (and Front's own 5 minutes)

# -- signing, per scheme (PLATFORMS.md, "Signature schemes compared") ------------------------------------------


def _hmac(secret: str, message: bytes, algorithm: str) -> bytes:
    return hmac.new(secret.encode(), message, algorithm).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


_RSA = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
_PEM = {key.public_key().public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo).decode(): key for key in _RSA}
_PEMS = list(_PEM)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _basic(pair: str) -> dict[str, str]:
    return {"authorization": "Basic " + _b64(pair.encode())}


Signer = Callable[[bytes, str, float, str], dict[str, str]]  # (body, secret, signed at, public URL) -> headers

SIGNERS: dict[str, Signer] = {
    "amazon_connect": lambda body, s, at, url: {"x-api-key": s},
    "canonical": lambda body, s, at, url: {"authorization": f"Bearer {s}"},
    "chatwoot": lambda body, s, at, url: {
        "x-chatwoot-timestamp": str(int(at)),
        "x-chatwoot-signature": "sha256=" + _hmac(s, str(int(at)).encode() + b"." + body, "sha256").hex()},
    "freshchat": lambda body, s, at, url: {
        "x-freshchat-signature": _b64(_PEM[s].sign(body, padding.PKCS1v15(), hashes.SHA256()))},
    "freshdesk": lambda body, s, at, url: {"x-deskpulse-secret": s},
    "front": lambda body, s, at, url: {  # application webhook: "<ms>:<body>", HMAC-SHA256
        "x-front-request-timestamp": str(int(at * 1000)),
        "x-front-signature": _b64(_hmac(s, str(int(at * 1000)).encode() + b":" + body, "sha256"))},
    "genesys": lambda body, s, at, url: _basic(s),
    "gorgias": lambda body, s, at, url: _basic(f"gorgias:{s}"),
    "helpscout": lambda body, s, at, url: {"x-helpscout-signature": _b64(_hmac(s, body, "sha1"))},
    "hubspot": lambda body, s, at, url: {  # v3: method + URI + body + timestamp (ms)
        "x-hubspot-request-timestamp": str(int(at * 1000)),
        "x-hubspot-signature-v3": _b64(_hmac(s, b"POST" + url.encode() + body + str(int(at * 1000)).encode(),
                                             "sha256"))},
    "intercom": lambda body, s, at, url: {"x-hub-signature": "sha1=" + _hmac(s, body, "sha1").hex()},
    "livechat": lambda body, s, at, url: {},  # the secret travels in the body (see EMBED)
    "salesforce": lambda body, s, at, url: {},  # OrganizationId in the body is the credential (see EMBED)
    "twilio": lambda body, s, at, url: {"x-twilio-signature": _b64(_hmac(s, url.encode(), "sha1"))},  # JSON sink
    "zammad": lambda body, s, at, url: {"x-hub-signature": "sha1=" + _hmac(s, body, "sha1").hex()},
    "zendesk": lambda body, s, at, url: {
        "x-zendesk-webhook-signature-timestamp": _iso(at),
        "x-zendesk-webhook-signature": _b64(_hmac(s, _iso(at).encode() + body, "sha256"))},
}


def _livechat(body: bytes, secret: str | None) -> bytes:
    document = json.loads(body)
    document.pop("secret_key", None)
    return json.dumps({**document, **({"secret_key": secret} if secret is not None else {})}).encode()


def _salesforce(body: bytes, secret: str | None) -> bytes:
    element = f"<OrganizationId>{secret}</OrganizationId>" if secret is not None else ""
    out, n = re.subn(rb"<OrganizationId>[^<]*</OrganizationId>", element.encode(), body)
    assert n == 1
    return out


# Credentials carried inside the body: put ``secret`` in, or take it out (None).
EMBED: dict[str, Callable[[bytes, str | None], bytes]] = {"livechat": _livechat, "salesforce": _salesforce}

# Event Streams sinks put the body's SHA-256 in the signed URL.
QUERY: dict[str, Callable[[bytes], str]] = {"twilio": lambda body: "bodySHA256=" + hashlib.sha256(body).hexdigest()}

# (configured secret, another one): the second signs the "invalid signature" case.
SECRETS: dict[str, tuple[str, str]] = {
    "amazon_connect": ("ac-api-key-1", "ac-api-key-2"),
    "canonical": ("canonical-token-1", "canonical-token-2"),
    "chatwoot": ("chatwoot-secret-1", "chatwoot-secret-2"),
    "freshchat": (_PEMS[0], _PEMS[1]),
    "freshdesk": ("freshdesk-secret-1", "freshdesk-secret-2"),
    "front": ("front-app-key-1", "front-app-key-2"),
    "genesys": ("eventbridge:genesys-1", "eventbridge:genesys-2"),
    "gorgias": ("gorgias-secret-1", "gorgias-secret-2"),
    "helpscout": ("helpscout-secret-1", "helpscout-secret-2"),
    "hubspot": ("hubspot-app-secret-1", "hubspot-app-secret-2"),
    "intercom": ("intercom-client-secret-1", "intercom-client-secret-2"),
    "livechat": ("livechat-secret-key-1", "livechat-secret-key-2"),
    "salesforce": ("00D5e000000KQ2eEAG", "00D5e000000ZZ9zZZZ"),  # the fixture's organization, another one
    "twilio": ("twilio-auth-token-1", "twilio-auth-token-2"),
    "zammad": ("zammad-token-1", "zammad-token-2"),
    "zendesk": ("zendesk-signing-secret-1", "zendesk-signing-secret-2"),
}

# One real-format delivery per platform that maps to events (no DLQ path); Front and Twilio in the formats
# with a timestamp (application webhook) and a JSON body (Event Streams), the stricter schemes.
FIXTURES = {
    "amazon_connect": "connected_to_agent_docs_sample", "canonical": "ticket_created",
    "chatwoot": "conversation_created", "freshchat": "message_create_agent", "freshdesk": "ticket_created",
    "front": "app_inbound_received", "genesys": "acd_start_voice", "gorgias": "ticket_updated_closed",
    "helpscout": "convo_created", "hubspot": "conversation_creation", "intercom": "conversation_user_created",
    "livechat": "incoming_chat", "salesforce": "case_created", "twilio": "stream_batch",
    "zammad": "ticket_created_with_article", "zendesk": "ticket_created",
}
TIMESTAMPED = {"chatwoot", "front", "hubspot", "zendesk"}  # schemes that sign a time with a replay window
_CREDENTIAL_HEADER = re.compile(r"signature|secret|api-key|authorization")


@dataclass(frozen=True)
class Case:
    platform: str
    name: str
    status: int
    outcome: str
    detail: str  # a regex the detail must match
    path: str
    body: bytes
    headers: dict[str, str]
    chunked: bool = False


def fixture(platform: str) -> tuple[bytes, dict[str, str]]:
    """The fixture's body as bytes and its headers other than credentials."""
    data = json.loads((ROOT / "tests" / "fixtures" / platform / f"{FIXTURES[platform]}.json").read_text())
    assert isinstance(data["expect"], list) and data["expect"], "pick a fixture that maps to events"
    body = data["body_text"].encode() if "body_text" in data else json.dumps(data["body"]).encode()
    headers = {k.lower(): v for k, v in data.get("headers", {}).items() if not _CREDENTIAL_HEADER.search(k.lower())}
    return body, headers


def request(platform: str, body: bytes, secret: str | None, at: float) -> tuple[str, dict[str, str]]:
    """Path (with query) and credential headers of ``body`` signed with ``secret`` at ``at`` (None: unsigned)."""
    path = f"/webhooks/{platform}"
    if platform in QUERY:
        path += "?" + QUERY[platform](body)
    if secret is None:
        return path, {}
    return path, SIGNERS[platform](body, secret, at, PUBLIC + path)


def cases_for(platform: str, now: float) -> list[Case]:
    right, wrong = SECRETS[platform]
    embed = EMBED.get(platform, lambda body, secret: body)
    raw, base = fixture(platform)
    wrong_type = "application/json" if platform == "salesforce" else "text/plain; charset=utf-8"
    out = []

    def case(name, status, outcome, detail, body, secret, at=now, content_type=None, chunked=False):
        path, credentials = request(platform, body, secret, at)
        headers = {**base, **credentials, **({"content-type": content_type} if content_type else {})}
        out.append(Case(platform, name, status, outcome, detail, path, body, headers, chunked))

    signed = embed(raw, right)
    truncated = signed[: len(signed) // 2]
    if platform == "livechat":  # verify reads secret_key from the JSON body: a cut body carries none
        case("truncated", 401, "unauthorized", r"not JSON.*secret_key", truncated, right)
    else:
        case("truncated", 400, "malformed", r"not valid (JSON|XML)", truncated, right)
    case("invalid signature", 401, "unauthorized", r"wrong|does not match|mismatch", embed(raw, wrong), wrong)
    case("missing signature", 401, "unauthorized", r"missing|no OrganizationId", embed(raw, None), None)
    case("wrong content type", 415, "unsupported_media_type", rf"{platform} webhooks must be sent as", signed,
         right, content_type=wrong_type)
    padded = signed + b" " * (LIMIT + 1 - len(signed))  # whitespace after the document: only the size is wrong
    # Declared by Content-Length (refused before reading), then chunked (refused once the limit is passed).
    case("oversized", 413, "too_large", rf"^body of {LIMIT + 1} bytes exceeds the limit of {LIMIT} bytes$", padded,
         right)
    case("oversized, chunked", 413, "too_large", rf"^body exceeds the limit of {LIMIT} bytes$", padded, right,
         chunked=True)
    if platform in TIMESTAMPED:
        case("replayed (stale)", 401, "unauthorized", r"possible replay", signed, right, at=now - STALE_S)
    return out


def test_every_adapter_is_covered_and_the_timestamped_schemes_are_the_ones_with_a_window():
    assert set(SIGNERS) == set(SECRETS) == set(FIXTURES) == set(platforms.PLATFORMS)
    windowed = {name for name, module in platforms.PLATFORMS.items()
                if "check_timestamp" in inspect.getsource(module.verify)}
    assert windowed == TIMESTAMPED




def received(client: httpx.Client, url: str) -> Counter:
    """``deskpulse_webhooks_received_total`` by (platform, outcome)."""
    out: Counter = Counter()
    for line in client.get(f"{url}/metrics").text.splitlines():
        if line.startswith("deskpulse_webhooks_received_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            out[(labels["platform"], labels["outcome"])] = float(line.rsplit(" ", 1)[1])
    return out


def metric(client: httpx.Client, url: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in client.get(f"{url}/metrics").text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def send(client: httpx.Client, base_url: str, case: Case) -> httpx.Response:
    if case.chunked:  # no Content-Length: ingest must stop reading at the limit
        body = case.body

        def chunks():
            for start in range(0, len(body), 8192):
                yield body[start:start + 8192]
        return client.post(base_url + case.path, content=chunks(), headers=case.headers)
    return client.post(base_url + case.path, content=case.body, headers=case.headers)


def schemathesis(schema: str, cwd: Path, max_time_s: int, extra: list[str] = ()) -> None:
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", schema, *extra,
               "--checks", "not_a_server_error", "--max-examples", "30", "--seed", "2026", "--workers", "1",
               "--request-timeout", "10", "--max-time", str(max_time_s)]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    print(result.stdout[-2000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


FUZZED_HEADERS = ["authorization", "x-api-key", "x-deskpulse-secret", "x-hub-signature", "x-chatwoot-signature",
                  "x-chatwoot-timestamp", "x-front-signature", "x-front-request-timestamp", "x-helpscout-signature",
                  "x-hubspot-signature-v3", "x-hubspot-request-timestamp", "x-twilio-signature",
                  "x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp", "x-freshchat-signature"]


def with_platforms(schema: dict) -> dict:
    """Ingest's OpenAPI with ``platform`` restricted to the registry, any JSON / form / text body, and optional
    credential headers (ingest reads the raw request, so its own description declares none of these)."""
    for path, operations in schema["paths"].items():
        if not path.startswith("/webhooks/"):
            continue
        operation = operations["post"]
        for parameter in operation["parameters"]:
            if parameter["name"] == "platform":
                parameter["schema"] = {"type": "string", "enum": sorted(platforms.PLATFORMS)}
        operation["parameters"] += [{"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
                                    for name in FUZZED_HEADERS]
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {}},
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}},
            "text/plain": {"schema": {"type": "string"}},
        }}
    return schema


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


def fuzz_canonical_authenticated(client: httpx.Client, url: str) -> None:
    """Hypothesis past the bearer check of the canonical endpoint: arbitrary bytes and JSON reach the event
    parser of the real process; none is an event, so each must be 400 with a detail (and nothing published)."""
    headers = {"authorization": f"Bearer {SECRETS['canonical'][0]}", "content-type": "application/json"}

    @hypothesis.settings(max_examples=60, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(st.binary(max_size=200) | _json.map(lambda value: json.dumps(value).encode()))
    def check(body: bytes) -> None:
        response = client.post(f"{url}/webhooks/canonical", content=body, headers=headers)
        assert response.status_code == 400, (body, response.status_code, response.text)
        assert response.json()["detail"].strip()

    check()


def test_bad_input_gets_4xx_with_detail_and_nothing_is_published(kafka_bootstrap, unique_names, tmp_path):
    env = {f"DESKPULSE_WEBHOOK_SECRET_{name.upper()}": right for name, (right, _) in SECRETS.items()}
    env |= {"DESKPULSE_MAX_BODY_BYTES": str(LIMIT), "DESKPULSE_PUBLIC_BASE_URL": PUBLIC}
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs", extra_env=env)
    events_topic, dlq_topic = unique_names["DESKPULSE_EVENTS_TOPIC"], unique_names["DESKPULSE_DLQ_TOPIC"]
    settings = Settings(kafka_bootstrap=kafka_bootstrap, events_topic=events_topic, dlq_topic=dlq_topic,
                        kpis_topic=unique_names["DESKPULSE_KPIS_TOPIC"],
                        contacts_topic=unique_names["DESKPULSE_CONTACTS_TOPIC"], topic_partitions=pipe.partitions)
    asyncio.run(ensure_topics(settings))  # as the aggregator would: "zero records" must mean an existing, empty topic
    codes = {}
    try:
        pipe.start("ingest")
        url = pipe.ingest_url

        # 1. schemathesis against ingest's own OpenAPI description, then against a copy that names the registered
        #    platforms and declares bodies and signature headers, so generated requests reach every adapter.
        schemathesis(f"{url}/openapi.json", tmp_path, max_time_s=12)
        with httpx.Client(timeout=10) as client:
            bare = received(client, url)
            enriched = tmp_path / "ingest-enriched.json"
            enriched.write_text(json.dumps(with_platforms(client.get(f"{url}/openapi.json").json())))
        schemathesis(str(enriched), tmp_path, max_time_s=20,
                     extra=["--url", url, "--include-path-regex", "^/webhooks/"])

        with httpx.Client(timeout=10) as client:
            fuzz_canonical_authenticated(client, url)
            before = received(client, url)
            fuzzed = before - bare
            print("generated requests, by (platform, outcome):", dict(sorted(fuzzed.items())))
            missed = set(platforms.PLATFORMS) - {platform for platform, _ in fuzzed}
            assert not missed, f"the generated requests never reached {missed}"

            # 2. every adapter, every kind of bad delivery.
            now = time.time()
            cases = [c for name in sorted(platforms.PLATFORMS) for c in cases_for(name, now)]
            failures = []
            for case in cases:
                response = send(client, url, case)
                try:
                    detail = response.json().get("detail")
                except ValueError:
                    detail = None
                ok = (response.status_code == case.status and isinstance(detail, str) and detail.strip()
                      and re.search(case.detail, detail))
                if not ok:
                    failures.append(f"{case.platform} / {case.name}: {response.status_code} {response.text[:300]}")
            assert not failures, "\n".join(failures)
            assert len(cases) == 6 * len(platforms.PLATFORMS) + len(TIMESTAMPED)

            # 3. still up and ready, every rejection counted under its outcome, nothing published.
            assert pipe.services["ingest"].running
            assert client.get(f"{url}/readyz").status_code == 200
            after = received(client, url)
            grown = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}
            assert grown == Counter((c.platform, c.outcome) for c in cases)
            assert metric(client, url, "deskpulse_ingest_events_published_total") == 0

            assert asyncio.run(read_topic(kafka_bootstrap, events_topic, pipe.partitions)) == []
            assert asyncio.run(read_topic(kafka_bootstrap, dlq_topic, 1)) == []

            # Control: the same reader sees exactly what one valid delivery publishes.
            raw, headers = fixture("zendesk")
            path, credentials = request("zendesk", raw, SECRETS["zendesk"][0], time.time())
            response = client.post(url + path, content=raw, headers={**headers, **credentials})
            assert response.status_code == 202, response.text
            expected = [e.event_id for e in platforms.get("zendesk").to_events(Delivery(body=raw, headers={})).events]
            assert response.json() == {"accepted": len(expected)} and len(expected) == 2
            published = asyncio.run(read_topic(kafka_bootstrap, events_topic, pipe.partitions))
            assert sorted(json.loads(r.value)["event_id"] for r in published) == sorted(expected)
            assert asyncio.run(read_topic(kafka_bootstrap, dlq_topic, 1)) == []
            assert metric(client, url, "deskpulse_ingest_events_published_total") == len(expected)
    finally:
        codes = pipe.stop()
        print(pipe.logs()[-3000:])
    log = (pipe.log_dir / "ingest.log").read_text()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-4000:]
    assert codes["ingest"] == 0

"""The contract every platform adapter meets: a pure ``verify`` and a pure ``to_events``.

An adapter is a module under ``services/ingest/platforms/`` registered in ``platforms/__init__.py``. It does
no I/O: ingest hands it the raw request (``Delivery``) and the configured secrets, and publishes what it
returns. Anything unusable raises one of the three typed errors below; ingest turns them into 401/400/422 with
the message as ``detail`` and counts them. Adapters never raise anything else for any input (a Hypothesis test
feeds them arbitrary bodies).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from services.common.events import (
    CanonicalEvent,
    EventValidationError,
    from_epoch_ms,
    normalise_time,
    parse_event,
)


@dataclass(frozen=True)
class Delivery:
    """One webhook request as it arrived. ``headers`` have lower-case names."""

    body: bytes
    headers: Mapping[str, str]
    method: str = "POST"
    url: str = ""  # the public URL the platform called (DESKPULSE_PUBLIC_BASE_URL + path + query)
    query: Mapping[str, str] = field(default_factory=dict)
    account: str | None = None  # from /webhooks/{platform}/{account}
    received_at: float = 0.0  # epoch seconds, for signed-timestamp replay windows


@dataclass(frozen=True)
class Reply:
    """A success answer other than the default 202 JSON (handshakes, SOAP acks, Twilio's 204)."""

    status: int = 200
    body: bytes = b""
    media_type: str = "application/json"


@dataclass(frozen=True)
class Adapted:
    """What one delivery means: zero or more canonical events, and optionally a specific reply."""

    events: list[CanonicalEvent]
    reply: Reply | None = None


class WebhookError(Exception):
    status = 400
    outcome = "malformed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthorized(WebhookError):
    """Missing or wrong signature/credentials, or a signed timestamp outside the replay window: 401."""

    status = 401
    outcome = "unauthorized"


class Malformed(WebhookError):
    """The body cannot be read at all (not JSON/form/XML, wrong shape): 400."""

    status = 400
    outcome = "malformed"


class Unmappable(WebhookError):
    """Authentic and well-formed, but not mappable to canonical events: 422 and written to the DLQ."""

    status = 422
    outcome = "unmappable"


class Adapter(Protocol):
    """What a platform module provides (module-level names)."""

    NAME: str
    MEDIA_TYPES: frozenset[str]  # accepted request media types, e.g. {"application/json"}
    REQUIRES_SECRET: bool  # False only where the platform cannot authenticate at all

    def verify(self, delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
        """Raise ``Unauthorized`` unless one of ``secrets`` authenticates the delivery. Pure, constant-time."""

    def to_events(self, delivery: Delivery) -> Adapted:
        """Map a verified delivery; raise ``Malformed`` or ``Unmappable``. Pure."""


# -- helpers adapters share ----------------------------------------------------------------------------------


def hmac_digest(secret: str, message: bytes, algorithm: str = "sha256") -> bytes:
    # hmac.digest with the algorithm's name takes OpenSSL's one-shot path (~30 % cheaper than hmac.new().digest()).
    return hmac.digest(secret.encode(), message, algorithm)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def any_matches(expected: Sequence[str], presented: str | None) -> bool:
    """Constant-time comparison of ``presented`` against each expected value (rotation: several secrets)."""
    if not presented:
        return False
    result = False
    for value in expected:
        result |= hmac.compare_digest(value.encode(), presented.encode())
    return result


def check_timestamp(signed_at_s: float, received_at_s: float, tolerance_s: float) -> None:
    if abs(received_at_s - signed_at_s) > tolerance_s:
        raise Unauthorized(
            f"signed timestamp is {abs(received_at_s - signed_at_s):.0f} s away from now "
            f"(tolerance {tolerance_s:.0f} s): possible replay"
        )


# A body's bytes mapped to b"9" (ASCII digits) and b" " (anything else), so runs of digits are found with `in`.
_DIGITS_ONLY = bytes(0x39 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_NUMBER = b"9" * 19  # an integer beyond 64 bits has at least 19 digits


def json_body(delivery: Delivery) -> Any:
    # orjson (several times faster) where its reading is certainly json's: it refuses everything json refuses,
    # and what json takes but orjson refuses (NaN, lone surrogates, numbers beyond a double, encodings other
    # than UTF-8) goes to json, which also words every error. The one document orjson reads differently has an
    # integer beyond 64 bits (a float, not an int): a body with a run of 19 digits goes to json as well.
    body = delivery.body
    if _LONG_NUMBER not in body.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise Malformed("body is not valid JSON: nested too deeply") from None


def event(document: dict[str, Any]) -> CanonicalEvent:
    """Build a canonical event from an adapter's mapping; a schema violation is an unmappable delivery."""
    try:
        return parse_event({"schema": "deskpulse.event.v1", "attributes": {}, **document})
    except EventValidationError as exc:
        raise Unmappable(f"mapped event is invalid: {exc}") from None


def stable_id(platform: str, *parts: Any) -> str:
    """An event id for platforms without one: a hash of the identifying fields, stable across redeliveries."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"{platform}:h:{digest}"


def to_rfc3339(value: Any, *, field: str = "timestamp") -> str:
    """Normalise a platform timestamp to RFC 3339 UTC milliseconds.

    Accepts ISO 8601 strings (any offset, up to nanoseconds, ``Z`` or ``+00:00``, also a space instead of
    ``T``), epoch seconds (int, float or numeric string, Intercom/Chatwoot/Front) and epoch milliseconds
    (HubSpot, Twilio ``TimestampMs``), told apart by magnitude. Raises ``Unmappable`` naming ``field``.
    """
    if isinstance(value, bool) or value is None:
        raise Unmappable(f"{field} is missing")
    if isinstance(value, str):
        text = value.strip()
        number = _number(text)
        if number is None:
            if len(text) >= 19 and text[10] == " ":
                text = text[:10] + "T" + text[11:]
            if text.endswith("+0000"):
                text = text[:-5] + "Z"
            try:
                return _normalised_time(text)
            except ValueError:
                raise Unmappable(f"{field} is not a timestamp: {value[:40]!r}") from None
        value = number
    if isinstance(value, (int, float)):
        if value != value or value <= 0 or value > 1e14:
            raise Unmappable(f"{field} is out of range: {value!r}")
        seconds = value / 1000 if value > 1e11 else value  # 1e11 s is the year 5138; 1e11 ms is 1973
        return from_epoch_ms(round(seconds * 1000))
    raise Unmappable(f"{field} is not a timestamp: {type(value).__name__}")


# The canonical form of the timestamps seen last: every delivery a platform signs in the same second carries the
# same signature timestamp, and events of the same second the same time. Pure (str to str); a timestamp that is
# not one raises each time, it is not kept.
_normalised_time = functools.lru_cache(maxsize=4096)(normalise_time)


def _number(text: str) -> float | None:
    """``float(text)``, or ``None`` if it is not a number. A date (four digits, then '-') never is one: no
    ``float()`` attempt and its exception for it."""
    if text[4:5] == "-" and text[:4].isdigit():
        return None
    try:
        return float(text)
    except ValueError:
        return None


def form_body(delivery: Delivery) -> dict[str, str]:
    """A form-encoded body (``application/x-www-form-urlencoded``) as a dict; ``Malformed`` if unreadable."""
    try:
        pairs = parse_qsl(delivery.body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(delivery.body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"body is not a valid form: {exc}") from None
    return dict(pairs)


def xml_root(delivery: Delivery) -> Any:
    """The parsed XML document root (entities and DTDs refused); ``Malformed`` if unreadable."""
    try:
        return defused_fromstring(delivery.body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as exc:
        raise Malformed(f"body is not valid XML: {exc.__class__.__name__}: {exc}") from None


def shared_secret(delivery: Delivery) -> str | None:
    """A shared secret presented by platforms that cannot sign (Freshdesk, Gorgias; proxies in front of
    others): the ``X-Deskpulse-Secret`` header, else the password of ``Authorization: Basic``."""
    header = delivery.headers.get("x-deskpulse-secret")
    if header:
        return header
    auth = delivery.headers.get("authorization", "")
    if auth[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded.partition(":")[2] or None


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (for optional parts of a payload)."""
    return value if isinstance(value, dict) else {}


def dig(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]…``, or ``None`` as soon as a step is not an object."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def optional_id(value: Any, empty: frozenset[str] = frozenset({""})) -> str | None:
    """An optional platform id as text (≤ 256 characters); ``None`` for null, non-ids and the ``empty`` values
    a platform uses for "none" (e.g. Zendesk's ``"0"``)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (int, str)):
        text = str(value).strip()
        return None if text.lower() in empty or len(text) > 256 else text
    return None


def _label_list(value: Any) -> list[str] | None:
    if isinstance(value, str):  # placeholders render lists as text: "a b c" (Zendesk), "a, b" (Freshdesk)
        value = [part for part in value.replace(",", " ").split() if part]
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if isinstance(item, dict):  # Intercom: {"type": "tag", "id": "1", "name": "billing"}
            item = item.get("name")
        text = optional_id(item)
        if text is not None:
            out.append(text)
    return out


def labels(
    *, tags: Any = None, ticket_type: Any = None, form: Any = None, topics: Any = None, category: Any = None
) -> dict[str, Any]:
    """Category attributes under their canonical names (docs/kpis.md "Categories"), only those present:
    ``tags`` and ``topics`` as lists of strings, ``ticket_type``, ``form`` and ``category`` as strings."""
    out: dict[str, Any] = {}
    for key, value in (("tags", _label_list(tags)), ("topics", _label_list(topics))):
        if value is not None:
            out[key] = value
    for key, value in (("ticket_type", ticket_type), ("form", form), ("category", category)):
        text = optional_id(value, frozenset({"", "-", "null", "0"}))
        if text is not None:
            out[key] = text
    return out


def obj(value: Any, field: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``Unmappable`` naming the field."""
    if not isinstance(value, dict):
        raise Unmappable(f"{field} must be an object")
    return value


def text_id(value: Any, field: str) -> str:
    """A platform id (string or number) as a non-empty string, else ``Unmappable`` naming the field."""
    if isinstance(value, bool) or value is None or value == "":
        raise Unmappable(f"{field} is missing")
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    raise Unmappable(f"{field} must be a string or an integer")

"""Salesforce Outbound Messages: OrganizationId check, SOAP ack, batches, XML safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring

from services.ingest.platforms import salesforce as adapter
from services.ingest.platforms.base import Delivery, Malformed, Unauthorized

ORG18, ORG15 = "00D5e000000KQ2eEAG", "00D5e000000KQ2e"
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "salesforce"


def soap(org: str | None = ORG18, notes: str = "") -> Delivery:
    org_xml = f"<OrganizationId>{org}</OrganizationId>" if org is not None else ""
    body = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound">{org_xml}'
            f"<ActionId>04k5e000000CaRkAAK</ActionId>{notes}</notifications></soapenv:Body></soapenv:Envelope>")
    return Delivery(body=body.encode(), headers={"content-type": "text/xml"})


def case_note(i: int) -> str:
    return (f'<Notification><Id>04l5e00000N{i:06d}</Id><sObject xsi:type="sf:Case" '
            f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>5005e0000{i:09d}</sf:Id>'
            "<sf:Status>New</sf:Status><sf:CreatedDate>2026-11-20T09:00:00.000Z</sf:CreatedDate>"
            "</sObject></Notification>")


def test_fixture_org_id_accepted():
    body = json.loads((FIXTURES / "case_created.json").read_text())["body_text"].encode()
    adapter.verify(Delivery(body=body, headers={"content-type": "text/xml"}), [ORG18], 300)


def test_fifteen_character_secret_accepted():
    adapter.verify(soap(), [ORG15], 300)


def test_rotated_second_org_accepted():
    adapter.verify(soap(), ["00D000000000001AAA", ORG18], 300)


@pytest.mark.parametrize("org", ["00D5e000000KQ2fEAG", "00d5e000000kq2eeag", ""])
def test_other_org_rejected(org):
    with pytest.raises(Unauthorized):
        adapter.verify(soap(org), [ORG18], 300)


def test_missing_org_rejected():
    with pytest.raises(Unauthorized):
        adapter.verify(soap(None), [ORG18], 300)


def test_ack_envelope_exact():
    adapted = adapter.to_events(soap(notes=case_note(1)))
    assert adapted.reply.status == 200 and adapted.reply.media_type == "text/xml"
    root = fromstring(adapted.reply.body)
    ack = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body/"
                    "{http://soap.sforce.com/2005/09/outbound}notificationsResponse/"
                    "{http://soap.sforce.com/2005/09/outbound}Ack")
    assert ack is not None and ack.text == "true"


def test_ignored_delivery_still_acknowledged():
    adapted = adapter.to_events(soap())
    assert adapted.events == [] and adapted.reply.body == adapter.ACK


def test_hundred_notifications():
    adapted = adapter.to_events(soap(notes="".join(case_note(i) for i in range(100))))
    assert len(adapted.events) == 100
    assert len({e.event_id for e in adapted.events}) == 100


def test_entities_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            b"<notifications><OrganizationId>&b;</OrganizationId></notifications>")
    with pytest.raises(Malformed):
        adapter.to_events(Delivery(body=bomb, headers={"content-type": "text/xml"}))
    with pytest.raises(Malformed):
        adapter.verify(Delivery(body=bomb, headers={"content-type": "text/xml"}), [ORG18], 300)


def test_not_xml_is_malformed():
    with pytest.raises(Malformed):
        adapter.to_events(Delivery(body=b"{}", headers={"content-type": "text/xml"}))


@pytest.mark.parametrize("raw,status", [("Escalated", "open"), ("On Hold", "on_hold"),
                                        ("Waiting on Customer", "pending"), ("Custom Done", "closed")])
def test_status_mapping(raw, status):
    note = ('<Notification><Id>04l1</Id><sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"<sf:Id>5001</sf:Id><sf:Status>{raw}</sf:Status><sf:IsClosed>{'true' if 'Done' in raw else 'false'}"
            "</sf:IsClosed><sf:CreatedDate>2026-11-20T09:00:00.000Z</sf:CreatedDate>"
            "<sf:LastModifiedDate>2026-11-20T10:00:00.000Z</sf:LastModifiedDate></sObject></Notification>")
    events = adapter.to_events(soap(notes=note)).events
    assert events[-1].type == "contact.status_changed" and events[-1].status == status

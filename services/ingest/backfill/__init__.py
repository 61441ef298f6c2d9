"""Bring the backlog in: contacts that were already open when deskpulse started, read from a platform's REST API.

Webhooks only tell deskpulse what changes from now on: a contact opened last week and untouched since would never
be counted as waiting. ``deskpulse backfill <platform>`` pages through the platform's API (``source.py`` says what
each platform module provides, ``run.py`` runs one), turns each record into canonical events and sends them where
``deskpulse replay`` sends its events (ingest's canonical webhook, or the events topic).

Event ids are stable (``<platform>:backfill:<contact id>:<what>``): running a backfill again, or resuming one, sends
the same ids, which ingest and the aggregator drop as duplicates. What a REST record cannot say exactly (who gave
the first response, when a reopen happened) is left out rather than guessed; docs/backfill.md lists it per platform.
"""

"""What a ``/metrics`` scrape keeps for the next: per-view text and figures, and per-section text.

A view's identity is its scope's version: the read model replaces a scope's merged view on every record of the
scope and never changes one (``ReadModel._changed``), so anything kept on a view (``on_view``) is current for as
long as the view is in the scrape, under a key of whatever else it depends on (the le bounds, the staffing
window's minute and the platform's pool, the local day and the queue's light views). A scope that changed is a
new view: its text and figures are built again at the next scrape, once; the others cost a lookup.

``ScrapeCache`` keeps each section's encoded text while its views (or chunks) are the same objects as at the
previous scrape. Every entry is one tuple replaced whole, so scrapes in racing worker threads read either the old
or the new entry; the worst case is building something twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import is_
from typing import Any

from prometheus_client.utils import floatToGoString

from services.api.scopeview import ScopeView
from services.domain.scopes import parse_light_scope

Bounds = dict[str, list[tuple[str, str]]]  # histogram le prefix -> sorted (le label, counter name)


def on_view(view: ScopeView, attr: str, key: object, build: Callable[..., Any], *args: Any) -> Any:
    """``build(*args)``, kept on the (immutable) view under ``attr`` while ``key`` stays equal."""
    cached = view.__dict__.get(attr)
    if cached is None or cached[0] != key:
        cached = (key, build(*args))
        view.__dict__[attr] = cached  # views are immutable; a racing scrape writes the same
    return cached[1]


def same(a: Sequence[object], b: Sequence[object]) -> bool:
    """The same objects in the same order."""
    return a is b or (len(a) == len(b) and all(map(is_, a, b)))


def stream_ms(view: ScopeView, wall_ms: int) -> int:
    """The view's stream time advanced by wall time since publication (as ``ReadModel.view`` does).

    Once the wall clock has passed every partial's publication, that is ``wall_ms`` plus the largest lead of
    stream time over publication time among the partials, which is kept on the view, so a scrape does not walk
    every queue's partials."""
    span = view.__dict__.get("_stream_lead")
    if span is None:
        parts = view.parts
        span = (
            (max(p["published_ms"] for p in parts), max(p["stream_ms"] - p["published_ms"] for p in parts))
            if parts
            else (None, 0)
        )
        view.__dict__["_stream_lead"] = span
    newest, lead = span
    best = view.stream_ms
    if newest is not None and wall_ms >= newest:
        t = wall_ms + lead
        return t if t > best else best
    for p in view.parts:
        t = p["stream_ms"] + max(0, wall_ms - p["published_ms"])
        if t > best:
            best = t
    return best


def _le_names(view: ScopeView) -> frozenset[str]:
    """The view's ``<prefix>le:<bound>`` counter names, kept on the view."""
    names = view.__dict__.get("_le_names")
    if names is None:
        names = view.__dict__["_le_names"] = frozenset(name for name in view.totals if "le:" in name)
    return names


def le_bounds(views: Sequence[ScopeView], prefixes: Sequence[str]) -> Bounds:
    """Per histogram prefix, every ``le`` bound any of the views has: sorted (le label, counter name)."""
    found: dict[str, list[tuple[float, str]]] = {prefix: [] for prefix in prefixes}
    for name in frozenset().union(*map(_le_names, views)):
        bounds = found.get(name[: name.index("le:") + 3])
        if bounds is not None:
            try:
                bounds.append((float(name[name.index("le:") + 3 :]), name))
            except ValueError:
                continue
    return {prefix: [(floatToGoString(b), name) for b, name in sorted(bounds)] for prefix, bounds in found.items()}


def _light_key(view: ScopeView) -> tuple[str, str, str, str]:
    """(kind, platform, queue, agent or category) of a light view, kept on the view."""
    key = view.__dict__.get("_light_key")
    if key is None:
        key = view.__dict__["_light_key"] = parse_light_scope(view.scope)
    return key


class Parts:
    """A queue's light views: ``agents`` by agent id, ``categories`` by category name, each in the order of the
    scrape's views. Equal only to itself, so a key holding it changes whenever the pair is rebuilt."""

    __slots__ = ("agents", "categories")

    def __init__(self) -> None:
        self.agents: dict[str, ScopeView] = {}
        self.categories: dict[str, ScopeView] = {}

    def same_views(self, other: Parts) -> bool:
        """The same views in the same order as ``other``."""
        return same(list(self.agents.values()), list(other.agents.values())) and same(
            list(self.categories.values()), list(other.categories.values())
        )


NO_PARTS = Parts()  # a queue without light views
KINDS = ("queue", "agent", "platform", "category", "queue_agent", "queue_category")


class ScrapeCache:
    """What the previous scrape built, by section (shared by scrapes in worker threads)."""

    def __init__(self) -> None:
        self.sections: dict[str, tuple[Sequence[ScopeView] | None, object, list, bytes]] = {}
        self.bounds: dict[str, tuple[Sequence[ScopeView], tuple, Bounds]] = {}
        self.light: tuple[Sequence[ScopeView], dict[tuple[str, str], Parts]] | None = None
        self.kinds: tuple[Sequence[ScopeView], dict[str, list[ScopeView]]] | None = None

    def by_kind(self, views: Sequence[ScopeView]) -> dict[str, list[ScopeView]]:
        """The views of each of ``KINDS``, in the order of ``views`` (reading every view's kind touches every view:
        reused while the views are the same objects as at the previous scrape)."""
        hit = self.kinds
        if hit is not None and same(hit[0], views):
            return hit[1]
        out: dict[str, list[ScopeView]] = {kind: [] for kind in KINDS}
        add = {kind: found.append for kind, found in out.items()}
        for view in views:
            append = add.get(view.kind)
            if append is not None:
                append(view)
        self.kinds = (views, out)
        return out

    def section(
        self,
        name: str,
        headers: Sequence[str],
        views: Sequence[ScopeView],
        attr: str,
        key: object,
        build: Callable[..., Sequence[str]],
        *args: Any,
    ) -> bytes:
        """The section's text: each header followed by every view's string for that family, encoded.

        A view's strings are ``build(view, *args)``, kept on the view under ``attr`` while ``key`` stays equal; the
        whole text is reused while the views and the key are those of the previous scrape."""
        hit = self.sections.get(name)
        if hit is not None and hit[0] is not None and hit[1] == key and same(hit[0], views):
            return hit[3]
        chunks = [on_view(view, attr, key, build, view, *args) for view in views]
        return self.joined(name, headers, chunks, views, key)

    def joined(
        self,
        name: str,
        headers: Sequence[str],
        chunks: list,
        views: Sequence[ScopeView] | None = None,
        key: object = None,
    ) -> bytes:
        """``headers`` each followed by every chunk's string for that family, encoded; reused while every chunk
        is the same object as at the previous scrape."""
        hit = self.sections.get(name)
        if hit is not None and same(hit[2], chunks):
            data = hit[3]
        else:
            columns = zip(*chunks) if chunks else [()] * len(headers)
            data = "".join([header + "".join(column) for header, column in zip(headers, columns)]).encode()
        self.sections[name] = (views, key, chunks, data)
        return data

    def le_bounds(self, name: str, views: Sequence[ScopeView], prefixes: Sequence[str]) -> tuple[tuple, Bounds]:
        """The views' ``le`` bounds (``le_bounds``) and a key of them: the same key object while they stay the
        same, so the per-view keys compare by identity."""
        hit = self.bounds.get(name)
        if hit is not None and same(hit[0], views):
            return hit[1], hit[2]
        bounds = le_bounds(views, prefixes)
        key = tuple(tuple(bounds[prefix]) for prefix in prefixes)
        if hit is not None and hit[1] == key:
            key = hit[1]
        self.bounds[name] = (views, key, bounds)
        return key, bounds

    def light_groups(self, light: Sequence[ScopeView]) -> dict[tuple[str, str], Parts]:
        """The light views by (platform, queue), in the order of ``light``.

        A queue's ``Parts`` is the same object as at the previous scrape while its light views are the same ones,
        so a queue's outlier judgements are keyed on it."""
        hit = self.light
        if hit is not None and same(hit[0], light):
            return hit[1]
        groups: dict[tuple[str, str], Parts] = {}
        for view in light:
            kind, platform, queue, key = _light_key(view)
            parts = groups.get((platform, queue))
            if parts is None:
                parts = groups[(platform, queue)] = Parts()
            (parts.agents if kind == "queue_agent" else parts.categories)[key] = view
        if hit is not None:
            previous = hit[1]
            for where, parts in groups.items():
                old = previous.get(where)
                if old is not None and old.same_views(parts):
                    groups[where] = old
        self.light = (light, groups)
        return groups

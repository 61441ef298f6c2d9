"""Issue categories and complaints: which category a contact is in, and whether it is a complaint.

Pure: no clock, no environment. The config is the ``categories:`` and ``complaints:`` sections of the SLA config
file (``DESKPULSE_SLA_CONFIG``, docs/kpis.md "Categories"), validated by ``sla.SlaConfig.load``.

- A contact's *labels* are what its events' ``attributes`` say about it: ``tags`` (list), ``ticket_type``,
  ``form``, ``topics`` (list) and ``category``, each folded as the **latest value in event time** (like the
  queue): a contact re-tagged while being handled moves to the category of its new tags.
- ``CategoryMap.category_of`` maps labels to one configured category: the **first** category in file order with
  a rule that matches (every condition of a rule holds; a condition holds when any of its values does), else
  ``other``. Values compare case-insensitively. The list is bounded (``MAX_CATEGORIES``), so category scopes and
  the ``category`` metric label stay bounded whatever platforms send.
- A *complaint* is a contact in a complaint category, or whose latest rating is bad (``ComplaintRule``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

OTHER = "other"
MAX_CATEGORIES = 50
LABEL_KEYS = ("tags", "ticket_type", "form", "topics", "category")  # canonical attribute names
_LISTS = frozenset({"tags", "topics"})
_MAX_VALUES = 32  # per list attribute, so a contact's record stays small
_MAX_TEXT = 128

# (tags, ticket_type, form, topics, category); lists as sorted tuples; None = never said
Labels = tuple[tuple[str, ...] | None, str | None, str | None, tuple[str, ...] | None, str | None]
NO_LABELS: Labels = (None, None, None, None, None)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.ASCII)


# -- labels from canonical attributes --------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip().casefold()
    return text[:_MAX_TEXT] or None


def _values(value: Any) -> list[str] | None:
    """A list attribute: a list of strings (or of ``{"name": ...}`` objects), or one string."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        return None
    out = set()
    for item in value:
        if isinstance(item, Mapping):
            item = item.get("name")
        text = _text(item)
        if text is not None:
            out.add(text)
    return sorted(out)[:_MAX_VALUES]


def step_labels(attributes: Mapping[str, Any] | None) -> list[Any] | None:
    """What a canonical event's ``attributes`` say for categories, compact, as kept in a contact's record:
    ``[tags, ticket_type, form, topics, category]`` (``None`` per key not present), or ``None`` if no key is."""
    if not attributes:
        return None
    out: list[Any] = [None] * len(LABEL_KEYS)
    found = False
    for i, key in enumerate(LABEL_KEYS):
        if key in attributes:
            value = _values(attributes[key]) if key in _LISTS else _text(attributes[key])
            if value is not None:
                out[i] = value
                found = True
    return out if found else None


def fold_labels(current: list[Any], step: Sequence[Any]) -> None:
    """Latest value per key wins: update ``current`` with a later step's labels."""
    for i, value in enumerate(step):
        if value is not None:
            current[i] = value


def freeze(labels: Sequence[Any]) -> Labels:
    tags, ticket_type, form, topics, category = labels
    return (
        tuple(tags) if tags is not None else None,
        ticket_type,
        form,
        tuple(topics) if topics is not None else None,
        category,
    )


# -- config ------------------------------------------------------------------------------------------------------


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value


def _fold(values: list[Any]) -> list[str]:
    out = []
    for value in values:
        text = _text(value)
        if text is None:
            raise ValueError(f"invalid value {value!r} (a non-empty string)")
        out.append(text)
    return out


def _check_category(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"invalid category name {value!r} (lower-case letters, digits, '_' or '-'; up to 64)")
    if value == OTHER:
        raise ValueError(f"'{OTHER}' is implicit: every contact no rule matches is in it")
    return value


Values = Annotated[list[Any], BeforeValidator(_one_or_many), AfterValidator(_fold), Field(min_length=1)]
Ids = Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]], BeforeValidator(_one_or_many)]
CategoryName = Annotated[str, AfterValidator(_check_category)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RuleSpec(_Strict):
    platform: Ids | None = None
    account: Ids | None = None
    tag: Values | None = None
    type: Values | None = None
    form: Values | None = None
    topic: Values | None = None
    category: Values | None = None

    @model_validator(mode="after")
    def _some(self) -> _RuleSpec:
        if all(v is None for v in (self.tag, self.type, self.form, self.topic, self.category)):
            raise ValueError("a rule needs at least one of tag, type, form, topic, category")
        return self


class CategorySpec(_Strict):
    name: CategoryName
    match: list[_RuleSpec] = Field(min_length=1)


class ComplaintsSpec(_Strict):
    categories: Annotated[list[str], BeforeValidator(_one_or_many)] = []
    bad_rating_at_most: float | None = Field(None, ge=0, lt=1)


@dataclass(frozen=True)
class Rule:
    """One rule of a category: ``None`` = any value; a set = any of these (case-insensitive)."""

    platform: frozenset[str] | None = None
    account: frozenset[str] | None = None
    tag: frozenset[str] | None = None
    ticket_type: frozenset[str] | None = None
    form: frozenset[str] | None = None
    topic: frozenset[str] | None = None
    category: frozenset[str] | None = None

    def matches(self, platform: str, account: str | None, labels: Labels) -> bool:
        tags, ticket_type, form, topics, category = labels
        if self.platform is not None and platform not in self.platform:
            return False
        if self.account is not None and account not in self.account:
            return False
        if self.tag is not None and not (tags and not self.tag.isdisjoint(tags)):
            return False
        if self.topic is not None and not (topics and not self.topic.isdisjoint(topics)):
            return False
        return all(
            allowed is None or value in allowed
            for allowed, value in ((self.ticket_type, ticket_type), (self.form, form), (self.category, category))
        )


@dataclass(frozen=True)
class CategoryMap:
    """The configured categories in file order, each with its rules. Build with ``CategoryMap.build``."""

    categories: tuple[tuple[str, tuple[Rule, ...]], ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, specs: Sequence[CategorySpec]) -> CategoryMap:
        def optional(values: Sequence[str] | None) -> frozenset[str] | None:
            return frozenset(values) if values is not None else None

        return cls(
            tuple(
                (
                    spec.name,
                    tuple(
                        Rule(
                            platform=optional(r.platform),
                            account=optional(r.account),
                            tag=optional(r.tag),
                            ticket_type=optional(r.type),
                            form=optional(r.form),
                            topic=optional(r.topic),
                            category=optional(r.category),
                        )
                        for r in spec.match
                    ),
                )
                for spec in specs
            )
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Every category a contact can be in: the configured ones, then ``other``."""
        return tuple(name for name, _ in self.categories) + (OTHER,)

    def category_of(self, platform: str, account: str | None, labels: Labels) -> str:
        """The first category with a matching rule, else ``other``. Memoised (contacts share labels)."""
        key = (platform, account, labels)
        found = self._cache.get(key)
        if found is None:
            found = OTHER
            if labels != NO_LABELS:
                for name, rules in self.categories:
                    if any(rule.matches(platform, account, labels) for rule in rules):
                        found = name
                        break
            if len(self._cache) > 65_536:
                self._cache.clear()
            self._cache[key] = found
        return found


@dataclass(frozen=True)
class ComplaintRule:
    """What makes a contact a complaint: being in one of ``categories``, or a bad latest rating.

    A rating is bad when ``bad_rating_at_most`` is set and the rating has a score and a scale: ``score /
    scale_max <= bad_rating_at_most``; otherwise (the default) when its label is ``bad``.
    """

    categories: frozenset[str] = frozenset()
    bad_rating_at_most: float | None = None

    def bad_rating(self, label: str, score: float | None, scale_max: float | None) -> bool:
        if self.bad_rating_at_most is not None and score is not None and scale_max:
            return score / scale_max <= self.bad_rating_at_most
        return label == "bad"


def check_sections(categories: Sequence[CategorySpec], complaints: ComplaintsSpec) -> list[tuple[str, str]]:
    """Cross-checks of the two sections: (path, message) problems."""
    problems = []
    if len(categories) > MAX_CATEGORIES:
        problems.append(
            (
                "categories",
                f"at most {MAX_CATEGORIES} categories (got {len(categories)}): the category label must stay bounded",
            )
        )
    seen: dict[str, int] = {}
    for i, spec in enumerate(categories):
        if spec.name in seen:
            problems.append(
                (f"categories[{i}].name", f"duplicate category {spec.name!r} (also categories[{seen[spec.name]}])")
            )
        seen.setdefault(spec.name, i)
    for i, name in enumerate(complaints.categories):
        if name not in seen and name != OTHER:
            known = ", ".join(seen) or "none defined"
            problems.append((f"complaints.categories[{i}]", f"unknown category {name!r} (known: {known})"))
    return problems

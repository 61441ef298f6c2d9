"""What one token may see: its grant (tokens.py) applied to scope ids and the live stream (docs/api.md, Roles).

- ``director`` (and the open API, with no tokens): every scope.
- ``manager``: the listed teams (a queue, its light scopes and the agents who worked in it), every queue and
  agent of the listed platforms with the platform's and its accounts' figures, and the listed accounts' figures.
  Never ``all`` or a category: those sum every platform.
- ``agent``: their own agent scope and their own light cells, and the aggregate figures of their teams (the
  queues they worked in, and the ``teams`` of their grant): a queue's body and days and its categories, never a
  body that names other agents (``people``: a team's table, its outliers, its training cells).
- ``metrics``: nothing under ``/v1``; only ``/metrics``.

A queue's agents and an agent's queues come from the read model's ``queue_agent`` scopes, as the team pages do.
"""

from __future__ import annotations

from functools import cached_property
from urllib.parse import quote, unquote

from services.api.readmodel import ReadModel
from services.api.stream import ScopeFilter
from services.api.tokens import Grant
from services.domain.scopes import LIGHT_KINDS

# The rule each route declares in ``openapi_extra`` (and /docs shows): the authorization matrix test reads it from
# the app's own route table, so a route without one fails.
ACCESS = "x-deskpulse-access"
RULES = {
    "open": "anyone, even with tokens on (no figures)",
    "metrics": "metrics and director tokens; open without a tokens file",
    "scope": "the scope in the path must be in the token's reach (403 otherwise); agents: their own and their "
    "teams' aggregates",
    "people": "names agents: the queue must be in a manager's or director's reach; agent and metrics tokens get 403",
    "list": "any figures token; the list holds only what the token may see",
    "stream": "any figures token; the stream carries only the scopes the token may see",
}


def rule(name: str) -> dict[str, str]:
    """``openapi_extra`` of a route: its access rule."""
    assert name in RULES, name
    return {ACCESS: name}


def _q(value: str) -> str:
    return quote(value, safe="")


class Reach:
    """One request's view of the figures: ``sees(scope)``; ``grant`` None is the open API or a director."""

    def __init__(self, grant: Grant | None, model: ReadModel) -> None:
        self.grant = grant
        self.model = model
        self.everything = grant is None or grant.role == "director"

    @property
    def figures(self) -> bool:
        """Whether the token reads figures at all (a metrics token does not)."""
        return self.grant is None or self.grant.role != "metrics"

    def sees(self, scope: str, people: bool = False) -> bool:
        """Whether the token may read ``scope``; ``people``: a body that names the scope's agents."""
        if self.everything:
            return True
        grant = self.grant
        assert grant is not None
        if grant.role == "manager":
            return self._manager_sees(grant, scope)
        if grant.role == "agent":
            return self._agent_sees(scope, people)
        return False

    # ---- managers ----------------------------------------------------------------------------------------

    def _manager_sees(self, grant: Grant, scope: str) -> bool:
        kind, _, rest = scope.partition("/")
        platform, _, key = rest.partition("/")
        if kind in ("all", "category") or not rest:
            return False
        if platform in grant.platforms:
            return True
        if kind == "queue":
            return (platform, key) in grant.teams
        if kind == "account":
            return (platform, key) in grant.accounts
        if kind == "agent":
            return (platform, key) in self.team_agents
        if scope.startswith(LIGHT_KINDS):
            return (platform, unquote(key.partition("/")[0])) in grant.teams
        return False

    @cached_property
    def team_agents(self) -> frozenset[tuple[str, str]]:
        """(platform, agent) of everyone who worked in the grant's teams."""
        assert self.grant is not None
        out: set[tuple[str, str]] = set()
        for platform, queue in self.grant.teams:
            prefix = f"queue_agent/{platform}/{_q(queue)}/"
            out.update((platform, unquote(s[len(prefix) :])) for s in self.model.under(prefix))
        return frozenset(out)

    # ---- agents ------------------------------------------------------------------------------------------

    @cached_property
    def agent_teams(self) -> frozenset[tuple[str, str]]:
        """(platform, queue) of the agent's teams: the grant's and every queue they worked in."""
        assert self.grant is not None and self.grant.agent is not None
        platform, agent = self.grant.agent
        suffix = "/" + _q(agent)
        worked = {
            (platform, unquote(s.split("/", 3)[2]))
            for s in self.model.under(f"queue_agent/{platform}/")
            if s.endswith(suffix) and s.count("/") == 3
        }
        return frozenset(worked | self.grant.teams)

    def _agent_sees(self, scope: str, people: bool) -> bool:
        assert self.grant is not None and self.grant.agent is not None
        platform, agent = self.grant.agent
        if scope == f"agent/{platform}/{agent}":
            return True
        kind, _, rest = scope.partition("/")
        scope_platform, _, key = rest.partition("/")
        if kind == "queue":
            return not people and (scope_platform, key) in self.agent_teams
        if kind == "queue_category":
            return not people and (scope_platform, unquote(key.partition("/")[0])) in self.agent_teams
        if kind in ("queue_agent", "queue_agent_category") and scope_platform == platform:
            parts = key.split("/")
            return len(parts) >= 2 and unquote(parts[1]) == agent
        return False

    # ---- the live stream ---------------------------------------------------------------------------------

    def stream_filter(self) -> ScopeFilter | None:
        """The scopes the token's stream may carry, as ids and prefixes; None: every scope."""
        if self.everything:
            return None
        grant = self.grant
        assert grant is not None
        exact: list[str] = []
        prefixes: list[str] = []
        if grant.role == "manager":
            for p in grant.platforms:
                exact.append(f"platform/{p}")
                prefixes += [f"{k}/{p}/" for k in ("account", "queue", "agent")]
                prefixes += [f"{k}{p}/" for k in LIGHT_KINDS]
            for p, q in grant.teams:
                exact.append(f"queue/{p}/{q}")
                prefixes += [f"{k}{p}/{_q(q)}/" for k in LIGHT_KINDS]
            exact += [f"agent/{p}/{a}" for p, a in self.team_agents]
            exact += [f"account/{p}/{a}" for p, a in grant.accounts]
        elif grant.role == "agent":
            assert grant.agent is not None
            platform, agent = grant.agent
            exact.append(f"agent/{platform}/{agent}")
            for p, q in self.agent_teams:
                exact.append(f"queue/{p}/{q}")
                prefixes.append(f"queue_category/{p}/{_q(q)}/")
                if p == platform:
                    exact.append(f"queue_agent/{p}/{_q(q)}/{_q(agent)}")
                    prefixes.append(f"queue_agent_category/{p}/{_q(q)}/{_q(agent)}/")
        return ScopeFilter.of(exact, prefixes)

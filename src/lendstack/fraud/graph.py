"""The identity graph around one application: applicants linked through shared identifiers (团伙识别).

Nodes are applicants ("applicant:<id>") and identifier values ("<kind>:<value>"); an edge says an
applicant used a value. The connected component holding the applicant is its ring candidate.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import networkx as nx  # type: ignore[import-untyped]

from lendstack.fraud.context import FraudContext
from lendstack.origination import IDENTIFIER_KINDS, Application

APPLICANT = "applicant"


@dataclass(frozen=True, slots=True)
class Component:
    applicant_ids: frozenset[str]
    shared: dict[str, int]  # identifier kind → number of values used by two or more applicants
    truncated: bool  # the walk stopped at the node limit; the ring is at least this big


def _seed_graph(application: Application) -> nx.Graph:
    graph = nx.Graph()
    me = (APPLICANT, application.applicant.applicant_id)
    for kind, value in application.applicant.identifiers.as_dict().items():
        graph.add_edge(me, (kind, value))
    return graph


def _expand(graph: nx.Graph, node: tuple[str, str], context: FraudContext) -> list[tuple[str, str]]:
    """Add the node's neighbours from history; return the ones not seen before."""
    kind, value = node
    if kind == APPLICANT:
        neighbours = [(k, v) for k, values in context.identifiers_of(value).items() for v in values]
    else:
        neighbours = [(APPLICANT, applicant_id) for applicant_id in context.identity_neighbors(kind, value)]
    fresh = [n for n in neighbours if n not in graph]
    graph.add_edges_from((node, n) for n in neighbours)
    return fresh


def identity_component(application: Application, context: FraudContext, nodes_max: int) -> Component:
    """Breadth-first walk from the application's identifiers through history, bounded by `nodes_max`."""
    assert nodes_max > 0
    graph = _seed_graph(application)
    queue = deque(node for node in graph if node[0] != APPLICANT)
    truncated = False
    while queue:
        if graph.number_of_nodes() >= nodes_max:
            truncated = True
            break
        queue.extend(_expand(graph, queue.popleft(), context))
    me = (APPLICANT, application.applicant.applicant_id)
    members = nx.node_connected_component(graph, me)
    return Component(
        applicant_ids=frozenset(value for kind, value in members if kind == APPLICANT),
        shared=_shared_kinds(graph, members),
        truncated=truncated,
    )


def _shared_kinds(graph: nx.Graph, members: set[tuple[str, str]]) -> dict[str, int]:
    shared = {kind: 0 for kind in IDENTIFIER_KINDS}
    for kind, value in members:
        if kind != APPLICANT and graph.degree((kind, value)) >= 2:
            shared[kind] += 1
    return {kind: count for kind, count in shared.items() if count}


def ring_components(applications: list[Application], members_min: int) -> list[frozenset[str]]:
    """All rings (components of at least `members_min` applicants) in a batch, largest first: for reports."""
    graph = nx.Graph()
    for application in applications:
        me = (APPLICANT, application.applicant.applicant_id)
        graph.add_node(me)
        graph.add_edges_from((me, item) for item in application.applicant.identifiers.as_dict().items())
    rings = [
        frozenset(value for kind, value in component if kind == APPLICANT)
        for component in nx.connected_components(graph)
    ]
    return sorted((ring for ring in rings if len(ring) >= members_min), key=len, reverse=True)

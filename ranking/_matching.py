"""Maximum-weight matching on general graphs with exact integer weights.

rustworkx's blossom implementation (Rust, ``i128`` weights) does the work when every
weight fits comfortably in 124 bits; larger weights fall back to networkx's pure-Python
implementation of the same algorithm, which works on unbounded Python integers.
"""

from __future__ import annotations

from collections.abc import Iterable

_RUST_LIMIT = 1 << 124


def max_weight_matching(n: int, edges: Iterable[tuple[int, int, int]]) -> list[int]:
    """Maximum-weight matching of the graph on vertices ``0..n-1``.

    Parameters
    ----------
    n : int
        Number of vertices.
    edges : iterable of (u, v, weight)
        Undirected edges with positive integer weights (edges of weight ``<= 0`` are
        dropped: they can never improve a maximum-weight matching).

    Returns
    -------
    list of int
        ``mate[v]`` is the vertex matched to ``v``, or ``v`` itself when unmatched
        (the convention bbpPairings uses).
    """
    kept = [(u, v, w) for u, v, w in edges if w > 0]
    mate = list(range(n))
    if not kept:
        return mate
    if max(w for _, _, w in kept) < _RUST_LIMIT:
        import rustworkx as rx

        graph = rx.PyGraph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from(kept)
        pairs = rx.max_weight_matching(graph, max_cardinality=False, weight_fn=lambda w: w)
    else:  # pragma: no cover - only reached with very large brackets
        import networkx as nx

        g = nx.Graph()
        g.add_weighted_edges_from(kept)
        pairs = nx.max_weight_matching(g, maxcardinality=False)
    for u, v in pairs:
        mate[u] = v
        mate[v] = u
    return mate

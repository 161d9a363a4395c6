"""Read a `.nir` file and reduce its graph to a `NirModel`.

Subgraphs are flattened (node `sub.lif`); an edge to or from a subgraph goes to its Input
or from its Output node, which become pass-throughs. Sizes are inferred along the edges
(scalar parameters take their layer's size) and must agree. An edge out of a spiking node
that lies on a cycle carries the previous step's spikes; every other edge acts within the
step, so a cycle without a spiking node is refused. Stateless chains are folded into one
weight matrix and bias per (source layer, target layer).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.nir.errors import NirError
from sim.nir.model import INPUT, PARAMS, SPIKING, Connection, Layer, NirModel

PASS = "pass"  # inner Input/Output ports, Identity and zero Delay: values go through unchanged
REFUSED = {
    "Conv1d": "convolutions have no counterpart on vc1's fully connected cores",
    "Conv2d": "convolutions have no counterpart on vc1's fully connected cores",
    "SumPool2d": "pooling has no counterpart on vc1's fully connected cores",
    "AvgPool2d": "pooling has no counterpart on vc1's fully connected cores",
    "Flatten": "shape operations are not supported (give the graph flat vectors)",
    "Threshold": "a threshold without a membrane is not a vc1 neuron",
    "I": "an integrator without threshold or leak is not supported",
    "Delay": "synaptic delays are not supported (vc1 has none)",
}


def read_graph(path: str | Path) -> Any:
    """The `nir.NIRGraph` in `path`; NirError for a missing file, non-HDF5 or non-NIR content."""
    import h5py  # noqa: PLC0415 - NIR support loads on demand
    import nir  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise NirError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise NirError(f"{path}: not a NIR file (not HDF5)")
    with h5py.File(path, "r") as f:
        if "node" not in f or not isinstance(f["node"], h5py.Group) or "type" not in f["node"]:
            raise NirError(f"{path}: an HDF5 file but not a NIR graph (no 'node' group with a type)")
    try:
        graph = nir.read(path, type_check=False)
    except Exception as exc:  # noqa: BLE001 - nir raises anything on malformed content
        raise NirError(f"{path}: unreadable NIR graph ({type(exc).__name__}: {exc})") from None
    if type(graph).__name__ != "NIRGraph":
        raise NirError(f"{path}: the file holds a single {type(graph).__name__} node, not a graph")
    return graph


def graph_to_model(graph: Any, dt: float, reset: str, convention: str, source: str = "graph") -> NirModel:
    """Reduce `graph` (a `nir.NIRGraph`) to a `NirModel` stepped at `dt` seconds."""
    nodes, edges = _flatten(graph, "", top=True)
    inputs = [n for n, (kind, _) in nodes.items() if kind == "Input"]
    outputs = [n for n, (kind, _) in nodes.items() if kind == "Output"]
    for role, found in (("Input", inputs), ("Output", outputs)):
        if len(found) != 1:
            raise NirError(f"{source}: the graph needs exactly one {role} node, found "
                           f"{len(found)}{' (' + ', '.join(found) + ')' if found else ''}")
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NirError(f"{source}: edge {a} -> {b} names node {end!r}, which the graph lacks")
    sizes = _infer_sizes(nodes, edges, source)
    delayed = _delayed_edges(nodes, edges)
    order = _forward_order(nodes, edges, delayed, source)
    names = [n for n in order if nodes[n][0] in PARAMS]
    index = {name: i for i, name in enumerate(names)}
    index[inputs[0]] = INPUT
    layers, connections = [], []
    for name in names:
        kind, node = nodes[name]
        terms, bias = _incoming(name, nodes, edges, delayed, sizes, index)
        layers.append(Layer(name, kind, _params(name, kind, node, sizes[name][0], source), bias))
        connections += [Connection(src, index[name], w, late) for (src, late), w in terms.items()]
    terms, bias = _incoming(outputs[0], nodes, edges, delayed, sizes, index)
    readout = [(src, late) for (src, late), w in terms.items()
               if src != INPUT and not late and w.shape[0] == w.shape[1] and np.array_equal(w, np.eye(w.shape[0]))]
    if len(terms) != 1 or len(readout) != 1 or np.any(bias):
        raise NirError(f"{source}: node {outputs[0]!r} (Output) must read one neuron layer directly "
                       "(no weights, biases or other sources on the way)")
    return NirModel(int(sizes[inputs[0]][1]), layers, connections, readout[0][0], float(dt), reset, convention,
                    {"source": source})


def _type(node: Any) -> str:
    return type(node).__name__


def _flatten(graph: Any, prefix: str, top: bool) -> tuple[dict[str, tuple[str, Any]], list[tuple[str, str]]]:
    """Flat {name: (kind, node)} and edges; a nested graph's Input and Output become PASS nodes,
    and an edge to (from) a subgraph goes to its Input (from its Output)."""
    nodes: dict[str, tuple[str, Any]] = {}
    ports: dict[str, tuple[str, str]] = {}  # subgraph name -> (its Input, its Output)
    edges: list[tuple[str, str]] = []
    for name, node in graph.nodes.items():
        full, kind = prefix + str(name), _type(node)
        if kind == "NIRGraph":
            inner, inner_edges = _flatten(node, full + ".", top=False)
            depth = full.count(".") + 1  # the subgraph's own ports, not those of graphs inside it
            ends = [[n for n, (k, x) in inner.items() if k == PASS and _type(x) == role and n.count(".") == depth]
                    for role in ("Input", "Output")]
            if any(len(e) != 1 for e in ends):
                raise NirError(f"node {full!r} (NIRGraph): a subgraph needs exactly one Input and one Output")
            nodes.update(inner)
            edges += inner_edges
            ports[full] = (ends[0][0], ends[1][0])
        elif (kind in ("Input", "Output") and not top) or kind == "Identity" or (
                kind == "Delay" and not np.any(np.asarray(node.delay))):
            nodes[full] = (PASS, node)
        elif kind in PARAMS or kind in ("Input", "Output", "Linear", "Affine", "Scale"):
            nodes[full] = (kind, node)
        else:
            why = REFUSED.get(kind, "not a node type the harness maps onto vc1")
            raise NirError(f"node {full!r} ({kind}): not supported: {why}")
    for a, b in graph.edges:
        a, b = prefix + str(a), prefix + str(b)
        edges.append((ports[a][1] if a in ports else a, ports[b][0] if b in ports else b))
    return nodes, edges


def _io_sizes(kind: str, node: Any) -> tuple[int | None, int | None]:
    """(input size, output size) a node fixes by itself (None: takes its neighbours')."""
    if kind in ("Linear", "Affine"):
        w = np.asarray(node.weight)
        return (int(w.shape[1]), int(w.shape[0])) if w.ndim == 2 else (None, None)
    if kind in ("Input", "Output"):
        shape = node.input_type if kind == "Input" else node.output_type
        shape = shape.get("input", shape.get("output")) if isinstance(shape, dict) else shape
        try:
            n = int(np.prod(np.asarray(shape, np.int64))) if np.size(shape) else None
        except (TypeError, ValueError):
            n = None
        return n, n
    arrays = [np.asarray(getattr(node, p)) for p in PARAMS.get(kind, ("scale",) if kind == "Scale" else ())]
    sizes = {a.size for a in arrays if a.ndim > 0 and a.size != 1}
    n = sizes.pop() if len(sizes) == 1 else None
    return n, n


def _infer_sizes(nodes: dict[str, tuple[str, Any]], edges: list[tuple[str, str]],
                 source: str) -> dict[str, tuple[int, int]]:
    """(input size, output size) of every node, propagated along edges until fixed."""
    known: dict[str, list[int | None]] = {}
    for name, (kind, node) in nodes.items():
        if kind in ("Linear", "Affine") and np.asarray(node.weight).ndim != 2:
            raise NirError(f"{source}: node {name!r} ({kind}): weight must be a matrix, got shape "
                           f"{np.shape(node.weight)}")
        known[name] = list(_io_sizes(kind, node))
    same = {name for name, (kind, _) in nodes.items() if kind not in ("Linear", "Affine")}
    for _ in range(len(nodes) + 1):
        changed = False
        for a, b in edges:
            out, inp = known[a][1], known[b][0]
            if out is not None and inp is not None and out != inp:
                raise NirError(f"{source}: layer sizes disagree: node {a!r} gives {out} values but node {b!r} "
                               f"takes {inp}")
            if out is None and inp is not None:
                known[a][1], changed = inp, True
            if inp is None and out is not None:
                known[b][0], changed = out, True
        for name in same:
            n = known[name][0] if known[name][0] is not None else known[name][1]
            if n is not None and known[name] != [n, n]:
                if None not in known[name]:
                    raise NirError(f"{source}: layer sizes disagree at node {name!r} ({known[name][0]} in, "
                                   f"{known[name][1]} out)")
                known[name], changed = [n, n], True
        if not changed:
            break
    for name, (kind, node) in nodes.items():
        if None in known[name]:
            raise NirError(f"{source}: node {name!r} ({kind}): its size cannot be inferred (scalar parameters and "
                           "no sized neighbour)")
        if kind == "Scale" and np.size(node.scale) not in (1, known[name][0]):
            raise NirError(f"{source}: layer sizes disagree: node {name!r} (Scale) has {np.size(node.scale)} "
                           f"factors for {known[name][0]} values")
    return {name: (int(i), int(o)) for name, (i, o) in known.items()}


def _reach(edges: list[tuple[str, str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def _delayed_edges(nodes: dict[str, tuple[str, Any]], edges: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Edges out of a spiking node back into its own cycle."""
    return {(a, b) for a, b in edges if nodes[a][0] in SPIKING and a in _reach(edges, b)}


def _forward_order(nodes: dict[str, tuple[str, Any]], edges: list[tuple[str, str]],
                   delayed: set[tuple[str, str]], source: str) -> list[str]:
    """Topological order over the undelayed edges, by name among the nodes ready (HDF5 keeps
    no order, so the name makes the order, and the model, the same on every read)."""
    live = [e for e in edges if e not in delayed]
    position = {n: i for i, n in enumerate(sorted(nodes))}
    pending = {n: sum(1 for _, b in live if b == n) for n in nodes}
    order, ready = [], [n for n in nodes if pending[n] == 0]
    while ready:
        node = min(ready, key=position.__getitem__)
        ready.remove(node)
        order.append(node)
        for a, b in live:
            if a == node:
                pending[b] -= 1
                if pending[b] == 0:
                    ready.append(b)
    if len(order) != len(nodes):
        stuck = [n for n in nodes if n not in order]
        raise NirError(f"{source}: a cycle through {', '.join(stuck)} has no spiking neuron to carry it to the "
                       "next step")
    return order


def _incoming(name: str, nodes: dict[str, tuple[str, Any]], edges: list[tuple[str, str]],
              delayed: set[tuple[str, str]], sizes: dict[str, tuple[int, int]],
              index: dict[str, int]) -> tuple[dict[tuple[int, bool], np.ndarray], np.ndarray]:
    """What arrives at node `name`: {(source layer, delayed): weight [n_src, n]} and a bias [n]."""
    n = sizes[name][0]
    terms: dict[tuple[int, bool], np.ndarray] = {}
    bias = np.zeros(n)
    for a, b in edges:
        if b != name:
            continue
        if a in index:
            src_terms, src_bias = {(index[a], (a, b) in delayed): np.eye(n)}, np.zeros(n)
        else:
            src_terms, src_bias = _incoming(a, nodes, edges, delayed, sizes, index)
            src_terms, src_bias = _apply(nodes[a], src_terms, src_bias)
        for key, w in src_terms.items():
            terms[key] = terms[key] + w if key in terms else w
        bias = bias + src_bias
    return terms, bias


def _apply(typed: tuple[str, Any], terms: dict[tuple[int, bool], np.ndarray],
           bias: np.ndarray) -> tuple[dict[tuple[int, bool], np.ndarray], np.ndarray]:
    """The stateless node's map applied to what reaches it."""
    kind, node = typed
    if kind in ("Linear", "Affine"):
        w = np.asarray(node.weight, np.float64).T
        terms, bias = {k: v @ w for k, v in terms.items()}, bias @ w
        if kind == "Affine":
            bias = bias + np.asarray(node.bias, np.float64).reshape(-1)
    elif kind == "Scale":
        s = np.asarray(node.scale, np.float64).reshape(-1)
        terms, bias = {k: v * s for k, v in terms.items()}, bias * s
    return terms, bias


def _params(name: str, kind: str, node: Any, n: int, source: str) -> dict[str, np.ndarray]:
    """The node's parameters as [n] float64 arrays (scalars broadcast), checked."""
    out = {}
    for key in PARAMS[kind]:
        value = getattr(node, key, None)
        if value is None and key == "v_reset":
            value = 0.0
        a = np.asarray(value, np.float64).reshape(-1)
        if a.size not in (1, n):
            raise NirError(f"{source}: layer sizes disagree: node {name!r} ({kind}) has {a.size} values of {key} "
                           f"for {n} neurons")
        a = np.broadcast_to(a, (n,)).copy()
        if not np.all(np.isfinite(a)):
            raise NirError(f"{source}: node {name!r} ({kind}): {key} has NaN or infinite values")
        if key.startswith("tau") and np.any(a <= 0):
            raise NirError(f"{source}: node {name!r} ({kind}): {key} must be > 0 s")
        out[key] = a
    return out

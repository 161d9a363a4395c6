"""Write a `NirModel` as a flat NIR graph that `nir.read` reads and `graph_to_model` maps back
to the same model: `input`, then per layer its incoming weights (`w_<source>_<layer>`, Linear,
or Affine carrying the layer's bias) and the layer itself, then `output`. The discretisation
(dt, reset, convention) is noted in the graph's metadata; importers are told it again (NIR
stores no dt)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from sim.atomic import write_atomic
from sim.nir.errors import NirError
from sim.nir.model import INPUT, NirModel


def model_to_graph(model: NirModel) -> Any:
    """The `nir.NIRGraph` of `model`."""
    import nir  # noqa: PLC0415 - NIR support loads on demand

    names = [layer.name for layer in model.layers]
    if len(set(names)) != len(names) or {"input", "output"} & set(names):
        raise NirError("layer names must be unique and not 'input' or 'output'")
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([model.n_in]))}
    edges: list[tuple[str, str]] = []
    for k, layer in enumerate(model.layers):
        incoming = [c for c in model.connections if c.target == k]
        if np.any(layer.bias) and not incoming:
            raise NirError(f"layer {layer.name!r} has a bias but no inputs; NIR carries biases on Affine nodes")
        for j, c in enumerate(incoming):
            source = "input" if c.source == INPUT else names[c.source]
            name = f"w_{source}_{layer.name}" + (f"_{j}" if j else "")
            weight = np.ascontiguousarray(c.weight.T)
            nodes[name] = (nir.Affine(weight=weight, bias=layer.bias.copy()) if j == 0 and np.any(layer.bias)
                           else nir.Linear(weight=weight))
            edges += [(source, name), (name, layer.name)]
        nodes[layer.name] = getattr(nir, layer.kind)(**{k: v.copy() for k, v in layer.params.items()})
    nodes["output"] = nir.Output(output_type=np.array([model.layers[model.output].size]))
    edges.append((names[model.output], "output"))
    metadata = {"dt": model.dt, "reset": model.reset, "convention": model.convention,
                "writer": "snn-hil-harness"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def write_model(model: NirModel, path: str | Path) -> Path:
    """Write `model` to `path` (a `.nir` HDF5 file), atomically."""
    import nir  # noqa: PLC0415

    buffer = io.BytesIO()  # h5py needs a readable file; write to memory, then atomically to disk
    nir.write(buffer, model_to_graph(model))
    return write_atomic(path, lambda f: f.write(buffer.getvalue()))

"""NIR graphs (Neuromorphic Intermediate Representation, PyPI `nir`) in and out of the project.

`import_nir` reads a `.nir` file into a `SpikingNetwork` whose metadata keeps the graph's own
model (`NirModel`, the discretisation chosen at import, and what the network form
approximates); `simulate_network` runs a network as the harness understands it; `export_nir`
writes any network as a NIR graph. Conventions: docs/nir.md.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.network import SpikingNetwork
from sim.nir.dynamics import Trace, run
from sim.nir.errors import NirError
from sim.nir.graph import graph_to_model, read_graph
from sim.nir.model import CONVENTIONS, RESETS, NirModel, check_discretisation
from sim.nir.project import from_network, to_network
from sim.nir.write import write_model

__all__ = ["CONVENTIONS", "RESETS", "NirError", "NirModel", "Trace", "export_nir", "import_nir", "imported_model",
           "nir_model", "simulate_network"]

METHOD = "nir"  # the `method` of an imported network's metadata


def import_nir(path: str | Path, dt: float, reset: str = "subtract", convention: str = "euler") -> SpikingNetwork:
    """The network of the NIR graph in `path`, stepped at `dt` seconds (one step per network step)."""
    check_discretisation(dt, reset, convention)
    model = graph_to_model(read_graph(path), dt, reset, convention, source=str(path))
    net, approximations = to_network(model)
    net.meta.update({"method": METHOD, "task": None, "nir": model.to_dict(), "nir_approximations": approximations})
    return net


def imported_model(net: SpikingNetwork) -> NirModel | None:
    """The graph model an imported network carries (None for a network trained here)."""
    record = net.meta.get("nir")
    return None if record is None else NirModel.from_dict(record)


def nir_model(net: SpikingNetwork) -> NirModel:
    """The model to export: an imported network's own graph, else the network written as NIR."""
    return imported_model(net) or from_network(net)


def export_nir(net: SpikingNetwork, path: str | Path) -> Path:
    """Write `net` as a NIR graph to `path`."""
    return write_model(nir_model(net), path)


def simulate_network(net: SpikingNetwork, inputs: np.ndarray, convention: str | None = None) -> Trace:
    """Spikes [S, T, neurons] and outputs [S, T, n_out] of the float network on `inputs` [S, T, n_in].

    An imported network runs its graph (`sim.nir.dynamics`, at its convention or `convention`);
    a network trained here runs `sim.lif` (its one discretisation; `convention` must be None)."""
    model = imported_model(net)
    if model is not None:
        return run(model if convention is None else model.with_convention(convention), inputs)
    if convention is not None:
        raise NirError("--convention applies to imported NIR graphs; a network trained here has one "
                       "discretisation (sim.lif)")
    from sim.lif import lif_params, simulate  # noqa: PLC0415

    x = np.asarray(inputs, np.float32)
    if x.ndim != 3 or x.shape[2] != net.n_in:
        raise NirError(f"inputs must be [samples, T, {net.n_in}], got shape {x.shape}")
    result, raster = simulate(lif_params(net), x, "numpy", record_spikes=True)
    return Trace(np.asarray(raster)[0], np.asarray(result.outputs)[0].astype(np.float64))

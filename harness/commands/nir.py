"""`harness import`, `harness export`, `harness simulate`: NIR graphs in and out, and the float
network as the harness understands it (docs/nir.md)."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from harness.commands.outputs import writable
from sim.atomic import OutputError, read_inputs, save_npz
from sim.netfile import NetworkFileError, load_network, save_network
from sim.nir import CONVENTIONS, RESETS, NirError, export_nir, import_nir, simulate_network

INPUT_ERRORS = (NirError, NetworkFileError, OutputError)  # bad files or choices: a one-line message


@click.command("import")
@click.argument("model", metavar="MODEL.nir", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dt", required=True, type=float, help="Seconds per step that the exporter baked into r and w_in "
              "(snnTorch: 1e-4; Norse: 1e-3 or its own; Spyx: 1).")
@click.option("--reset", default="subtract", show_default=True, help=f"Reset mode: {' or '.join(RESETS)} "
              "(NIR files before 1.0.6 and snnTorch exports do not say).")
@click.option("--convention", default="euler", show_default=True, help=f"Update order: {' or '.join(CONVENTIONS)} "
              "(euler: the NIR reference; snntorch: reproduces snnTorch exports).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=writable,
              help="Network file (.npz) for compile, deploy, robustness, calibrate, run and simulate.")
def import_cmd(model: Path, dt: float, reset: str, convention: str, out: Path) -> None:
    """Import a NIR graph as a network file."""
    try:
        net = import_nir(model, dt, reset, convention)
        save_network(net, out)
    except INPUT_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    layers = ", ".join(f"{x['name']} {x['kind']}[{len(x['bias'])}]" for x in net.meta["nir"]["layers"])
    click.echo(f"{model}: {net.n_in} inputs -> {layers}; {net.n_neurons} spiking neurons, {net.n_out} outputs "
               f"(dt {dt:g} s, reset {reset}, convention {convention})")
    for note in net.meta["nir_approximations"]:
        click.echo(f"  network form (compile, robustness): {note}")
    click.echo(f"network -> {out}")


@click.command("export")
@click.argument("net_file", metavar="NET", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=writable,
              help="NIR graph (.nir, HDF5).")
def export_cmd(net_file: Path, out: Path) -> None:
    """Export a network file (trained here or imported) as a NIR graph."""
    try:
        export_nir(load_network(net_file), out)
    except INPUT_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"NIR graph -> {out}")


@click.command("simulate")
@click.argument("net_file", metavar="NET", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--inputs", "inputs_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Inputs [samples, T, channels]: a .npy array, or a .npz with an 'inputs' array (a data set).")
@click.option("--convention", default=None, help=f"Imported graphs only: {' or '.join(CONVENTIONS)} "
              "(default: the one chosen at import).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=writable,
              help="Result (.npz): spikes [samples, T, neurons] (uint8) and outputs [samples, T, n_out].")
def simulate_cmd(net_file: Path, inputs_file: Path, convention: str | None, out: Path) -> None:
    """Run the float network on inputs and write every neuron's spikes and the outputs."""
    try:
        net = load_network(net_file)
        trace = simulate_network(net, _inputs(inputs_file), convention)
        save_npz(out, {"spikes": trace.spikes, "outputs": trace.outputs})
    except INPUT_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{trace.spikes.shape[0]} samples x {trace.spikes.shape[1]} steps: {int(trace.spikes.sum())} spikes "
               f"from {trace.spikes.shape[2]} neurons -> {out}")


def _inputs(path: Path) -> np.ndarray:
    """The array in a .npy file or the 'inputs' array of a .npz; NirError naming the file otherwise."""
    data = read_inputs(path, NirError)
    if not np.issubdtype(data.dtype, np.number) or not np.all(np.isfinite(data)):
        raise NirError(f"{path}: inputs must be finite real numbers")
    return data

"""`harness chip`: inspect chip specs and run saved configurations on virtual chips."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from drivers.population import SimulatedPopulation
from harness.commands.outputs import outputs_apart, writable
from sim.atomic import OutputError, read_inputs, save_npz
from sim.backend import BACKEND_NAMES, BackendError
from sim.chip.config import ChipConfig, ConfigError
from sim.chip.inputs import InputError
from sim.chip.mismatch import MismatchError, resolve_cv
from sim.chip.spec import DEFAULT_SPEC, SYNAPSE_TYPES, SpecError, load_spec


@click.group()
def chip() -> None:
    """Inspect vc1 chip specs and run configurations on virtual chips."""


@chip.command()
@click.argument("spec", default=DEFAULT_SPEC)
def info(spec: str) -> None:
    """Print the geometry and default mismatch of SPEC (a built-in name or a TOML/JSON file)."""
    try:
        s = load_spec(spec)
    except SpecError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"spec {s.name} ({s.spec_version})")
    click.echo(f"  cores            {s.cores}")
    click.echo(f"  neurons/core     {s.neurons_per_core}   (N = {s.n_neurons})")
    click.echo(f"  inputs           {s.inputs}   (spike counts 0..15 per step)")
    click.echo(f"  fan_in           {s.fan_in}   CAM slots per neuron")
    click.echo(f"  dt               {s.dt_ms} ms")
    click.echo(f"  synapse types    {', '.join(f'{k}={name}' for k, name in enumerate(SYNAPSE_TYPES))}")
    click.echo("  default mismatch (cv): " + ", ".join(f"{k} {v:.2f}" for k, v in s.mismatch_cv.items()))
    if s.power is None:
        click.echo("  power model      none (the spec file has no [power] table)")
        return
    p = s.power
    click.echo(f"  power model      at {p.nominal_supply_v:g} V: static {1e6 * p.static_power_per_core_w:g} uW/core; "
               f"per spike {1e12 * p.energy_per_spike_j:g} pJ, synaptic event {1e12 * p.energy_per_synaptic_event_j:g} "
               f"pJ, input event {1e12 * p.energy_per_input_event_j:g} pJ, routed event "
               f"{1e12 * p.energy_per_routed_event_j:g} pJ")


@chip.command("run")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--inputs", "inputs_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Input raster: .npy, or .npz with array 'inputs'; [T, M] for all chips or [B, T, M] one per chip.")
@click.option("--chips", default=1, show_default=True, type=click.IntRange(1), help="Number of virtual chips.")
@click.option("--first-seed", default=0, show_default=True, type=click.IntRange(0, 2**64 - 1),
              help="Chip seeds are first-seed .. first-seed + chips - 1.")
@click.option("--mismatch", default="spec", show_default=True,
              help="'spec' (per-class defaults), 0 (nominal), a cv like 0.1 or 10%.")
@click.option("--noise", "noise_amplitude", default=0, show_default=True, type=click.IntRange(0, 2**31 - 1),
              help="Noise amplitude A (integer).")
@click.option("--noise-seed", default=0, show_default=True, type=click.IntRange(0, 2**64 - 1))
@click.option("--state/--no-state", default=False, help="Also record v, isyn and refr at every step.")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_NAMES))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=writable,
              help="Output .npz: spikes [B, T, N], chip_seeds, the activity counters synaptic_events, "
                   "input_events, spike_count, routed_events [B], and state arrays with --state.")
@outputs_apart(inputs=("config_file", "inputs_file"), outputs=("out",))
def run_config(config_file: Path, inputs_file: Path, chips: int, first_seed: int, mismatch: str,
               noise_amplitude: int, noise_seed: int, state: bool, backend: str, out: Path) -> None:
    """Run CONFIG_FILE on virtual chips and write their output rasters."""
    seeds = [(first_seed + i) % 2**64 for i in range(chips)]
    try:
        config = ChipConfig.load(config_file)
        resolve_cv(mismatch, config.spec)
        inputs = _per_chip(read_inputs(inputs_file, InputError), chips, inputs_file)
        result = SimulatedPopulation(mismatch, backend).run(config, inputs, seeds, [noise_seed] * chips,
                                                            noise_amplitude=noise_amplitude, record_state=state)
    except (ConfigError, MismatchError, InputError, BackendError) as exc:
        raise click.ClickException(str(exc)) from None
    arrays = {"spikes": result.spikes, "chip_seeds": np.array(seeds, np.uint64), **result.activity.arrays()}
    if state:
        arrays.update(v=result.v, isyn=result.isyn, refr=result.refr)
    try:
        save_npz(out, arrays)
    except OutputError as exc:
        raise click.ClickException(str(exc)) from None
    rate = result.spikes.mean() * 1000.0 / config.spec.dt_ms
    click.echo(f"{chips} chip(s) x {result.spikes.shape[1]} steps: mean rate {rate:.2f} Hz, "
               f"{result.activity.synaptic_events.mean():.0f} synaptic events per chip -> {out}")


def _per_chip(inputs: np.ndarray, chips: int, path: Path) -> np.ndarray:
    """Inputs [chips, T, M]: a shared raster [T, M] repeated, or one per chip as given."""
    if np.ndim(inputs) == 2:
        return np.broadcast_to(inputs, (chips, *np.shape(inputs)))
    if np.ndim(inputs) != 3:
        raise InputError(f"{path}: inputs have shape {np.shape(inputs)}; expected [steps, channels] shared by "
                         "every chip or [chips, steps, channels]")
    if len(inputs) != chips:
        raise InputError(f"{path}: inputs hold {len(inputs)} rasters for {chips} chips")
    return inputs



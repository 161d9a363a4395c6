"""`harness compile`: map a trained network onto a vc1 chip spec and report the mapping."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from harness.commands.outputs import outputs_apart, writable
from harness.compiler import CompileError, compile_network, format_report
from harness.deploy import TASK_ERRORS, check_task, measure, task_for
from harness.run_config import NORMALISED_READOUT, READOUTS, SHARED_READOUTS, default_readout
from harness.shared_readout import SHARED_CHIPS, fit_across_chips
from sim.atomic import OutputError, write_json
from sim.backend import BACKEND_NAMES, BackendError
from sim.chip.mismatch import MismatchError, resolve_cv
from sim.chip.spec import DEFAULT_SPEC, SpecError
from sim.netfile import NetworkFileError, load_network


@click.command("compile")
@click.argument("net_file", metavar="NET", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--spec", default=DEFAULT_SPEC, show_default=True, help="Chip spec: dynapse1, dense1k or a TOML/JSON file.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=writable,
              help="Compiled configuration (.npz; also a plain chip configuration).")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path), callback=writable,
              help="Also write the mapping report as JSON.")
@click.option("--refit/--no-refit", default=True, show_default=True,
              help="Re-fit the readout by ridge regression on training data (on the chips --readout names).")
@click.option("--readout", type=click.Choice(READOUTS),
              help="Where the re-fit runs: the nominal chip, or (shared) the nominal chip and --readout-chips virtual "
                   "chips sampled at --mismatch (seeds from 2**31, never a chip --chips judges): one readout for all "
                   "chips that keeps the nominal chip's accuracy; shared-normalised: the same on each output "
                   "neuron's trace divided by its mean rate so far. Default: the training method's (ADS "
                   "shared-normalised, docs/fidelity.md 5.11; others shared).")
@click.option("--readout-chips", default=SHARED_CHIPS, show_default=True, type=click.IntRange(1),
              help="Sampled chips a shared readout is fitted on.")
@click.option("--task", "task_name", help="Task name or .npz data set (default: the one the network was trained on; "
              "an imported NIR graph compiles without one).")
@click.option("--weight-bits", type=click.IntRange(2, 16), help="Cap connection counts at 2**(bits-1)-1.")
@click.option("--replicas", default=1, show_default=True, type=click.IntRange(1),
              help="Copies of the network on the chip, each with its own neurons and recurrence, all fed the same "
                   "inputs, one readout over all (redundancy against mismatch; R x the neurons and energy).")
@click.option("--chips", default=8, show_default=True, type=click.IntRange(0),
              help="Virtual chips at --mismatch to evaluate (0: skip).")
@click.option("--mismatch", default="spec", show_default=True, help="Mismatch of those chips: spec, 0, 0.1, 10%.")
@click.option("--samples", type=click.IntRange(1), help="Test samples to evaluate (default: the whole test split).")
@click.option("--backend", default="auto", show_default=True, type=click.Choice(BACKEND_NAMES))
@outputs_apart(inputs=("net_file", "task_name"), outputs=("out", "report_file"))
def compile_cmd(net_file: Path, spec: str, out: Path, report_file: Path | None, refit: bool, readout: str | None,
                readout_chips: int, task_name: str | None, weight_bits: int | None, replicas: int, chips: int,
                mismatch: str, samples: int | None, backend: str) -> None:
    """Compile NET (a saved network) for a chip spec, measure it and print the mapping report."""
    if readout is not None and not refit:
        raise click.ClickException(f"--readout {readout} re-fits the readout; it cannot go with --no-refit")
    try:
        net = load_network(net_file)
        if task_name is None and net.meta.get("task") is None and "nir" in net.meta:
            # an imported graph without a task: its readout kept as imported, nothing to measure on
            compiled = compile_network(net, spec, None, weight_bits, replicas)
            click.echo("no task: inputs assumed within ±1, readout kept as imported (pass --task to refit and measure)")
        else:
            task = task_for(net.meta, task_name)
            check_task(net, task)
            compiled = compile_network(net, spec, task.train.inputs, weight_bits, replicas)
            resolve_cv(mismatch, compiled.config.spec)
            readout = (readout or default_readout(str(net.meta.get("method", "")))) if refit else None
            if readout in SHARED_READOUTS:
                compiled = fit_across_chips(compiled, task, chips=readout_chips, mismatch=mismatch, backend=backend,
                                            judged=range(chips), normalised=readout == NORMALISED_READOUT)
            compiled, accuracy = measure(net, compiled, task, chips=chips, mismatch=mismatch, samples=samples,
                                         backend=backend, refit=readout == "nominal")
            compiled = replace(compiled, report={**compiled.report, "accuracy": accuracy})
        compiled.save(out)
        if report_file is not None:
            write_json(report_file, compiled.report)
    except (NetworkFileError, CompileError, SpecError, MismatchError, BackendError, OutputError,
            *TASK_ERRORS) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_report(compiled.report))
    click.echo(f"compiled configuration -> {out}")

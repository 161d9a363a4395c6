"""Where a compiled network's readout is re-fitted, and compiling a network as a deployment does.

`ReadoutFit` names the re-fit: on the nominal chip (`harness.deploy.refit_readout`) or one
readout shared by all chips (`harness.shared_readout.fit_across_chips`; "shared-normalised":
on each trace divided by its neuron's mean rate, docs/fidelity.md 5.11), fitted at a
mismatch level and never on the `judged` chips. `compile_for_chip` compiles and then
re-fits that way, as `harness compile`, a run's deployments and the selection of
candidates (`harness.selection`) do.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.compiler import CompiledNetwork, compile_network
from harness.deploy import refit_readout
from harness.run_config import NORMALISED_READOUT, SHARED_READOUTS
from harness.shared_readout import fit_across_chips
from sim.chip.spec import ChipSpec
from sim.network import SpikingNetwork
from sim.tasks.base import Task


@dataclass(frozen=True)
class ReadoutFit:
    """Where a compiled network's readout is re-fitted: on the nominal chip, or ("shared",
    "shared-normalised") across sampled chips at `mismatch`, none of them among the `judged`
    chip seeds."""

    where: str = "nominal"
    mismatch: str | float = "spec"
    judged: range = range(0)

    def apply(self, compiled: CompiledNetwork, task: Task, backend: str = "auto") -> CompiledNetwork:
        if self.where in SHARED_READOUTS:
            return fit_across_chips(compiled, task, mismatch=self.mismatch, backend=backend, judged=self.judged,
                                    normalised=self.where == NORMALISED_READOUT)
        return refit_readout(compiled, task, backend)


def compile_for_chip(net: SpikingNetwork, spec: str | ChipSpec, task: Task, weight_bits: int | None = None,
                     backend: str = "auto", readout: ReadoutFit = ReadoutFit(), replicas: int = 1) -> CompiledNetwork:
    """`compile_network` (with `replicas` copies on the chip) followed by a re-fit of the
    readout as `readout` says: the host's decoder matches what the chip does."""
    compiled = compile_network(net, spec, task.train.inputs, weight_bits=weight_bits, replicas=replicas)
    return readout.apply(compiled, task, backend)

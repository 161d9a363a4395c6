"""Opening a VISA resource manager; "sim" means the project's simulated lab."""
from __future__ import annotations

from importlib import resources

import pyvisa

from drivers.instruments.scpi import InstrumentError

SIM = "sim"
SIM_SUPPLY = "ASRL1::INSTR"       # addresses in drivers/instruments/instruments.yaml
SIM_MULTIMETER = "ASRL2::INSTR"
SIM_SMU = "ASRL3::INSTR"          # a source-measure unit with buffered sampling (Keithley 2450 SCPI)
SIM_PLAIN_SMU = "ASRL4::INSTR"    # one without a reading buffer
SIM_SILENT = "ASRL9::INSTR"


def sim_backend() -> str:
    """pyvisa-sim backend string for the simulated lab (package data: drivers/instruments/instruments.yaml)."""
    return f"{resources.files('drivers.instruments').joinpath('instruments.yaml')}@sim"


def resource_manager(backend: str = "") -> pyvisa.ResourceManager:
    """`backend`: "sim", a pyvisa backend ("@py", "@ivi", "file.yaml@sim"), or "" for the default."""
    target = sim_backend() if backend == SIM else backend
    try:
        return pyvisa.ResourceManager(target)
    except (ValueError, OSError, pyvisa.Error) as exc:
        raise InstrumentError(f"cannot open VISA backend {target or 'default'!r}: {exc}") from None

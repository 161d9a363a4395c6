"""Lab instruments over VISA (pyvisa): a programmable supply, a multimeter and a source-measure unit."""
from drivers.instruments.multimeter import Multimeter
from drivers.instruments.scpi import InstrumentError, InstrumentTimeout, Reading, ScpiInstrument
from drivers.instruments.smu import SourceMeter
from drivers.instruments.supply import PowerSupply
from drivers.instruments.visa import SIM, SIM_MULTIMETER, SIM_SMU, SIM_SUPPLY, resource_manager

__all__ = ["InstrumentError", "InstrumentTimeout", "Multimeter", "PowerSupply", "Reading", "ScpiInstrument",
           "SIM", "SIM_MULTIMETER", "SIM_SMU", "SIM_SUPPLY", "SourceMeter", "resource_manager"]

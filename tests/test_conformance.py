"""The conformance suite (drivers/conformance.py) on every target we can reach.

Targets: the in-process emulator, a virtual board on a pty through the serial driver,
one on TCP through socket://, and a physical board at $HARNESS_BOARD_URL (skipped
when unset).
"""
import os

import pytest

from drivers.board_server import BoardServer
from drivers.conformance import *  # noqa: F401,F403 - the suite's test functions
from drivers.endpoints import PtyEndpoint, TcpEndpoint
from drivers.serving import BackgroundServer
from drivers.targets import open_chip

CHIP_SEED = 7
MAX_STEPS = 500


@pytest.fixture(scope="module", params=["emulator", "pty", "socket", "board"])
def target(request):
    """(target for open_chip, spec name)."""
    if request.param == "emulator":
        yield "emulator", "dynapse1"
    elif request.param == "board":
        url = os.environ.get("HARNESS_BOARD_URL")
        if not url:
            pytest.skip("no physical board: set HARNESS_BOARD_URL (e.g. /dev/ttyACM0) to run the suite on one")
        yield url, os.environ.get("HARNESS_BOARD_SPEC", "dynapse1")
    else:
        endpoint = PtyEndpoint() if request.param == "pty" else TcpEndpoint("127.0.0.1", 0)
        with BackgroundServer(BoardServer(chip_seed=CHIP_SEED, max_steps=MAX_STEPS), endpoint) as server:
            yield server.url, "dynapse1"


@pytest.fixture
def chip_factory(target):
    made = []

    def factory():
        chip = open_chip(target[0], spec=target[1], chip_seed=CHIP_SEED, link_timeout=5.0)
        made.append(chip)
        return chip

    yield factory
    for chip in made:
        chip.close()

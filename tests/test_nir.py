"""NIR import, simulation and export (issue 21): graph shapes, conventions, round trips, bad input."""
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from sim.lif import lif_params, simulate
from sim.netfile import load_network, save_network
from sim.nir import NirError, import_nir, imported_model, simulate_network
from sim.nir.dynamics import run
from tests.networks import random_network

RNG = np.random.default_rng(21)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def fails_in_one_line(*args: str) -> str:
    """The command fails with exit status 1, one `Error:` line and no traceback."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def cuba(n: int, **over) -> nir.CubaLIF:
    p = dict(tau_syn=np.full(n, 5e-4), tau_mem=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n),
             v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.full(n, 5.0))
    p.update(over)
    return nir.CubaLIF(**p)


def braille_graph(rng=RNG) -> nir.NIRGraph:
    """The NIR paper's Braille network's shape: 12 inputs, 40 CubaLIF with a flat w_rec, 7 CubaLIF outputs."""
    nodes = {"input": nir.Input(input_type=np.array([12])),
             "fc1": nir.Linear(weight=rng.normal(0, 0.6, (40, 12))),
             "lif1.lif": cuba(40), "lif1.w_rec": nir.Linear(weight=rng.normal(0, 0.15, (40, 40))),
             "fc2": nir.Linear(weight=rng.normal(0, 0.4, (7, 40))), "lif2": cuba(7),
             "output": nir.Output(output_type=np.array([7]))}
    edges = [("input", "fc1"), ("fc1", "lif1.lif"), ("lif1.lif", "lif1.w_rec"), ("lif1.w_rec", "lif1.lif"),
             ("lif1.lif", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def nested_graph(rng=RNG, scalar: bool = False) -> tuple[nir.NIRGraph, nir.NIRGraph]:
    """The same network written snnTorch-style (a recurrent subgraph) and flat; `scalar`: the
    readout's parameters as 0-d arrays (NIR issue 176)."""
    w_in, w_rec, b_rec, w_out = (rng.normal(0, 0.5, (6, 3)), rng.normal(0, 0.3, (6, 6)), rng.normal(0, 0.1, 6),
                                 rng.normal(0, 0.8, (2, 6)))
    size = (lambda v: np.array(v)) if scalar else (lambda v: np.full(2, v))
    readout = nir.LIF(tau=size(2e-3), r=size(20.0), v_leak=size(0.0), v_threshold=size(1.0), v_reset=size(0.0))
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([6])), "lif": cuba(6),
                              "w_rec": nir.Affine(weight=w_rec, bias=b_rec),
                              "output": nir.Output(output_type=np.array([6]))},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
                       type_check=False)
    nested = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "fc1": nir.Linear(weight=w_in),
                                 "rec": sub, "fc2": nir.Linear(weight=w_out), "out": readout,
                                 "output": nir.Output(output_type=np.array([2]))},
                          edges=[("input", "fc1"), ("fc1", "rec"), ("rec", "fc2"), ("fc2", "out"), ("out", "output")],
                          type_check=False)
    flat = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "fc1": nir.Linear(weight=w_in),
                               "rec.lif": cuba(6), "rec.w_rec": nir.Affine(weight=w_rec, bias=b_rec),
                               "fc2": nir.Linear(weight=w_out), "out": readout,
                               "output": nir.Output(output_type=np.array([2]))},
                        edges=[("input", "fc1"), ("fc1", "rec.lif"), ("rec.lif", "rec.w_rec"), ("rec.w_rec", "rec.lif"),
                               ("rec.lif", "fc2"), ("fc2", "out"), ("out", "output")], type_check=False)
    return nested, flat


def write(graph: nir.NIRGraph, path: Path) -> Path:
    nir.write(path, graph, compression=None)  # HDF5 compresses no 0-d (scalar) datasets
    return path


def spikes_in(inputs_shape: tuple[int, int, int], rate: float = 0.3) -> np.ndarray:
    return (RNG.random(inputs_shape) < rate).astype(np.float32)


# ---- import: graph shapes -------------------------------------------------------------------
def test_nested_subgraph_and_flat_graph_give_the_same_model(tmp_path):
    nested, flat = nested_graph()
    a = import_nir(write(nested, tmp_path / "nested.nir"), 1e-4, "subtract", "snntorch")
    b = import_nir(write(flat, tmp_path / "flat.nir"), 1e-4, "subtract", "snntorch")
    assert imported_model(a).same_as(imported_model(b))
    model = imported_model(a)
    assert [(x.name, x.kind, x.size) for x in model.layers] == [("rec.lif", "CubaLIF", 6), ("out", "LIF", 2)]
    recurrent = [c for c in model.connections if c.source == c.target]
    assert len(recurrent) == 1 and recurrent[0].delayed  # the cycle carries the previous step's spikes
    assert not [c for c in model.connections if c.source == 0 and c.target == 1][0].delayed
    # the recurrent Affine's bias reaches the CubaLIF's input every step
    assert np.allclose(model.layers[0].bias, nested.nodes["rec"].nodes["w_rec"].bias)


def test_scalar_parameters_take_their_layer_size(tmp_path):
    nested, _ = nested_graph(scalar=True)
    model = imported_model(import_nir(write(nested, tmp_path / "s.nir"), 1e-4))
    assert model.layers[1].params["tau"].shape == (2,) and np.all(model.layers[1].params["tau"] == 2e-3)


def test_snntorch_convention_is_snntorch_order_and_euler_the_nir_reference(tmp_path):
    """One CubaLIF neuron, stepped by hand both ways (the NIR paper's nir_reference_impl order and
    snnTorch's Synaptic with reset by subtraction)."""
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1])), "w": nir.Linear(weight=np.ones((1, 1))),
                                "lif": cuba(1), "output": nir.Output(output_type=np.array([1]))},
                         edges=[("input", "w"), ("w", "lif"), ("lif", "output")], type_check=False)
    path = write(graph, tmp_path / "one.nir")
    x = RNG.uniform(0, 0.6, (1, 80, 1))
    alpha, beta = 1 - 1e-4 / 5e-4, 1 - 1e-4 / 1e-3
    syn = mem = spk = 0.0
    expect = []
    for t in range(80):  # snnTorch: syn <- a syn + x; mem <- b mem + syn - thr * (mem_prev > thr)
        syn = alpha * syn + x[0, t, 0]
        mem = beta * mem + syn - float(spk)
        spk = mem > 1.0
        expect.append(spk)
    got = simulate_network(import_nir(path, 1e-4, "subtract", "snntorch"), x).spikes[0, :, 0]
    assert got.tolist() == expect and sum(expect) > 3
    i = v = 0.0
    expect = []
    for t in range(80):  # nir_reference_impl: the old current drives v; subtract at once
        i, v = i + 0.2 * (-i + 5.0 * x[0, t, 0]), v + 0.1 * (-v + 10.0 * i)
        expect.append(v > 1.0)
        v -= 1.0 * (v > 1.0)
    assert simulate_network(import_nir(path, 1e-4, "subtract", "euler"), x).spikes[0, :, 0].tolist() == expect


def test_zero_reset_sets_v_reset(tmp_path):
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1])), "w": nir.Linear(weight=np.ones((1, 1))),
                                "lif": nir.LIF(tau=np.array([1e-3]), r=np.array([10.0]), v_leak=np.zeros(1),
                                               v_threshold=np.ones(1), v_reset=np.array([-0.5])),
                                "output": nir.Output(output_type=np.array([1]))},
                         edges=[("input", "w"), ("w", "lif"), ("lif", "output")], type_check=False)
    path = write(graph, tmp_path / "zero.nir")
    model = imported_model(import_nir(path, 1e-4, "zero"))
    x = np.full((1, 30, 1), 0.3)
    v, expect = 0.0, []
    for _ in range(30):
        v = v + 0.1 * (-v + 10.0 * 0.3)
        expect.append(v > 1.0)
        v = -0.5 if v > 1.0 else v
    assert run(model, x).spikes[0, :, 0].tolist() == expect


# ---- the chip-facing network form and compile -----------------------------------------------
def test_braille_graph_imports_and_compiles_for_dynapse1_with_a_mapping_report(tmp_path):
    path = write(braille_graph(), tmp_path / "braille.nir")
    net_file = tmp_path / "braille.npz"
    out = invoke("import", path, "--dt", "1e-4", "--reset", "subtract", "-o", net_file)
    assert "lif1.lif CubaLIF[40], lif2 CubaLIF[7]; 47 spiking neurons, 7 outputs" in out
    net = load_network(net_file)
    assert (net.n_in, net.n_neurons, net.n_out) == (12, 47, 7)
    assert np.count_nonzero(net.w_fast[:40, :40]) == 40 * 40  # w_rec, on the hidden neurons' own synapse
    assert np.count_nonzero(net.w_fast[:40, 40:]) == 40 * 7   # hidden -> output, a step later
    report_file = tmp_path / "report.json"
    out = invoke("compile", net_file, "--spec", "dynapse1", "-o", tmp_path / "chip.npz", "--report", report_file)
    assert "readout kept as imported" in out and "mapping report: 47-neuron nir network" in out
    assert "fan-in used per neuron" in out and "quantisation error" in out
    report = __import__("json").loads(report_file.read_text())
    assert report["fan_in"]["limit"] == 64 and report["fan_in"]["max"] <= 64


def test_network_form_of_a_spiking_readout_decides_by_spike_count(tmp_path):
    path = write(braille_graph(np.random.default_rng(3)), tmp_path / "braille.nir")
    net = import_nir(path, 1e-4, "subtract", "snntorch")
    assert net.tau_out == 1.0 and np.array_equal(net.w_out[40:], np.eye(7)) and not net.w_out[:40].any()
    assert net.meta["nir_approximations"], "the network form of a CubaLIF graph is an approximation, and says so"


# ---- export and round trips -----------------------------------------------------------------
def test_export_of_an_import_is_read_by_nir_and_imports_to_the_identical_network(tmp_path):
    nested, _ = nested_graph()
    net_file = tmp_path / "net.npz"
    invoke("import", write(nested, tmp_path / "in.nir"), "--dt", "1e-4", "--convention", "snntorch", "-o", net_file)
    invoke("export", net_file, "-o", tmp_path / "out.nir")
    graph = nir.read(tmp_path / "out.nir")  # with nir's own type checks
    assert {type(n).__name__ for n in graph.nodes.values()} == {"Input", "Output", "Linear", "Affine", "CubaLIF", "LIF"}
    again = import_nir(tmp_path / "out.nir", 1e-4, "subtract", "snntorch")
    first = load_network(net_file)
    assert imported_model(again).same_as(imported_model(first))
    for name, a in first.arrays().items():
        assert np.array_equal(a, getattr(again, name)), name


def test_round_trip_of_a_network_trained_here_gives_identical_float_spikes(tmp_path):
    net = random_network(np.random.default_rng(5), n=24, n_in=3, n_out=2)
    net_file = save_network(net, tmp_path / "ads.npz")
    invoke("export", net_file, "-o", tmp_path / "ads.nir")
    nir.read(tmp_path / "ads.nir")
    back = import_nir(tmp_path / "ads.nir", 1e-3, "zero", "euler")
    assert back.meta["nir_approximations"] == []
    for name, a in net.arrays().items():
        assert np.allclose(a, getattr(back, name), rtol=1e-12, atol=1e-15), name
    x = RNG.normal(0, 1, (6, 300, 3)).astype(np.float32)
    original, raster = simulate(lif_params(net), x, record_spikes=True)
    imported, raster_back = simulate(lif_params(back), x, record_spikes=True)
    assert raster.sum() > 100 and np.array_equal(raster, raster_back)
    # and the graph itself, stepped as NIR says (forward Euler), is the same network (in float64)
    exact, raster64 = simulate(lif_params(net, dtype=np.float64), x, record_spikes=True)
    trace = simulate_network(back, x)
    assert np.array_equal(trace.spikes, raster64[0]) and np.allclose(trace.outputs, exact.outputs[0], atol=1e-12)


def test_simulate_command_writes_spikes_of_every_neuron_and_outputs(tmp_path):
    nested, _ = nested_graph()
    net_file = tmp_path / "net.npz"
    invoke("import", write(nested, tmp_path / "in.nir"), "--dt", "1e-4", "-o", net_file)
    x = spikes_in((4, 50, 3))
    np.save(tmp_path / "x.npy", x)
    invoke("simulate", net_file, "--inputs", tmp_path / "x.npy", "-o", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as out:
        assert out["spikes"].shape == (4, 50, 8) and out["outputs"].shape == (4, 50, 2)
        assert np.array_equal(out["outputs"], out["spikes"][..., 6:])
        euler = out["spikes"]
    invoke("simulate", net_file, "--inputs", tmp_path / "x.npy", "--convention", "snntorch", "-o", tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as out:
        assert not np.array_equal(out["spikes"], euler)  # the conventions differ


# ---- bad input: one line each -----------------------------------------------------------------
def conv_graph() -> nir.NIRGraph:
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1, 4, 4])),
                               "conv": nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3)), stride=1,
                                                  padding=0, dilation=1, groups=1, bias=np.zeros(2)),
                               "output": nir.Output(output_type=np.array([2, 2, 2]))},
                        edges=[("input", "conv"), ("conv", "output")], type_check=False)


def test_bad_graphs_and_options_are_one_line_errors(tmp_path):
    out = tmp_path / "net.npz"
    text = tmp_path / "model.nir"
    text.write_text("not a graph")
    assert "not a NIR file (not HDF5)" in fails_in_one_line("import", text, "--dt", "1e-4", "-o", out)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    assert "an HDF5 file but not a NIR graph" in fails_in_one_line("import", tmp_path / "other.h5", "--dt", "1e-4",
                                                                   "-o", out)
    line = fails_in_one_line("import", write(conv_graph(), tmp_path / "conv.nir"), "--dt", "1e-4", "-o", out)
    assert "node 'conv' (Conv2d): not supported" in line
    _, flat = nested_graph()
    no_output = nir.NIRGraph(nodes={k: v for k, v in flat.nodes.items() if k != "output"},
                             edges=[e for e in flat.edges if e[1] != "output"], type_check=False)
    assert "exactly one Output node, found 0" in fails_in_one_line("import", write(no_output, tmp_path / "o.nir"),
                                                                   "--dt", "1e-4", "-o", out)
    no_input = nir.NIRGraph(nodes={k: v for k, v in flat.nodes.items() if k != "input"},
                            edges=[e for e in flat.edges if e[0] != "input"], type_check=False)
    assert "exactly one Input node, found 0" in fails_in_one_line("import", write(no_input, tmp_path / "i.nir"),
                                                                  "--dt", "1e-4", "-o", out)
    good = write(flat, tmp_path / "good.nir")
    assert "dt must be a positive number of seconds, got 0.0" in fails_in_one_line("import", good, "--dt", "0",
                                                                                   "-o", out)
    assert "unknown reset 'sometimes'" in fails_in_one_line("import", good, "--dt", "1e-4", "--reset", "sometimes",
                                                            "-o", out)
    assert "unknown convention 'rk4'" in fails_in_one_line("import", good, "--dt", "1e-4", "--convention", "rk4",
                                                           "-o", out)
    wrong = nir.NIRGraph(nodes={**flat.nodes, "fc2": nir.Linear(weight=np.ones((2, 5)))}, edges=flat.edges,
                         type_check=False)
    line = fails_in_one_line("import", write(wrong, tmp_path / "sizes.nir"), "--dt", "1e-4", "-o", out)
    assert "layer sizes disagree" in line and "'fc2'" in line
    assert not out.exists()


def test_cycle_without_a_spiking_neuron_is_refused(tmp_path):
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])), "a": nir.Linear(weight=np.eye(2)),
                                "li": nir.LI(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2)),
                                "back": nir.Linear(weight=np.eye(2)), "output": nir.Output(output_type=np.array([2]))},
                         edges=[("input", "a"), ("a", "li"), ("li", "back"), ("back", "li"), ("li", "output")],
                         type_check=False)
    with pytest.raises(NirError, match="has no spiking neuron"):
        import_nir(write(graph, tmp_path / "loop.nir"), 1e-3)


def test_simulate_refuses_inputs_of_the_wrong_width(tmp_path):
    nested, _ = nested_graph()
    net_file = tmp_path / "net.npz"
    invoke("import", write(nested, tmp_path / "in.nir"), "--dt", "1e-4", "-o", net_file)
    np.save(tmp_path / "x.npy", np.zeros((2, 10, 5)))
    assert "inputs must be [samples, T, 3], got shape (2, 10, 5)" in fails_in_one_line(
        "simulate", net_file, "--inputs", tmp_path / "x.npy", "-o", tmp_path / "o.npz")

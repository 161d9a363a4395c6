"""Bad inputs give one clear line (file, field or value and the limit) and leave nothing behind (issue #9)."""
import json
import os
import socket
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import sim.atomic
from drivers.instruments import InstrumentError, PowerSupply
from harness.cli import main
from harness.results import RunDir
from sim.atomic import OutputError, check_writable, save_npz, write_text
from sim.chip.config import ChipConfig, ConfigError
from sim.chip.spec import SpecError, load_spec
from sim.netfile import NetworkFileError, load_network, save_network
from tests.networks import random_network

RNG = np.random.default_rng(0)
TINY_TRAIN = ["--method", "ads", "--neurons", "16", "--epochs", "1", "--teacher-epochs", "2", "--backend", "numpy"]


def fails_cleanly(args: list[str], *expected: str, code: int | None = None) -> str:
    """Run `harness args`; assert a non-zero exit (`code` if given), no traceback, and an output that is
    one error line holding every `expected` (after click's usage lines for a usage error, exit code 2)."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and (code is None or result.exit_code == code), result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, AssertionError), result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and (len(lines) == 1 or result.exit_code == 2), result.output
    for text in expected:
        assert text in lines[-1], result.output
    return lines[-1]


def files_in(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ---- 1. corrupt chip configurations and malformed network metadata --------------------------
def corrupt_member(path: Path, member: str) -> None:
    """Flip bytes inside the compressed data of one member of the .npz at `path`."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 10
    data[start:start + 30] = bytes(b ^ 0xFF for b in data[start:start + 30])
    path.write_bytes(data)


def test_corrupt_chip_configuration_is_named(tmp_path):
    path = ChipConfig.empty(load_spec("dynapse1")).save(tmp_path / "chip.npz")
    corrupt_member(path, "cam_source.npy")
    np.save(tmp_path / "inputs.npy", np.zeros((5, 64), np.uint8))
    with pytest.raises(ConfigError, match="chip.npz: not a readable chip configuration"):
        ChipConfig.load(path)
    fails_cleanly(["chip", "run", str(path), "--inputs", str(tmp_path / "inputs.npy"), "-o", str(tmp_path / "out.npz")],
                  "chip.npz: not a readable chip configuration", "decompressing")
    assert not (tmp_path / "out.npz").exists()


def test_corrupt_input_raster_is_named(tmp_path):
    ChipConfig.empty(load_spec("dynapse1")).save(tmp_path / "chip.npz")
    save_npz(tmp_path / "inputs.npz", {"inputs": np.zeros((50, 64), np.uint8)})
    corrupt_member(tmp_path / "inputs.npz", "inputs.npy")
    fails_cleanly(["chip", "run", str(tmp_path / "chip.npz"), "--inputs", str(tmp_path / "inputs.npz"),
                   "-o", str(tmp_path / "out.npz")], "inputs.npz: not a readable .npy/.npz file")
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("content", [b"junk\n", "npy"], ids=["text", "npy"])
def test_a_file_that_is_no_npz_archive_is_named(tmp_path, content):
    """A text file or a single .npy array under a network's name is one line, not NumPy's pickle advice
    or a TypeError from inside np.load."""
    path = tmp_path / "net.npz"
    if content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        path.write_bytes(content)
    line = fails_cleanly(["compile", str(path), "-o", str(tmp_path / "chip.npz")],
                         "net.npz: not a saved network: unreadable .npz (not a .npz archive)")
    assert "pickle" not in line
    assert not (tmp_path / "chip.npz").exists()


@pytest.mark.parametrize("shape", [(64,), (1, 1, 5, 64)])
def test_an_input_raster_of_the_wrong_rank_is_named(tmp_path, shape):
    ChipConfig.empty(load_spec("dynapse1")).save(tmp_path / "chip.npz")
    np.save(tmp_path / "inputs.npy", np.zeros(shape, np.uint8))
    fails_cleanly(["chip", "run", str(tmp_path / "chip.npz"), "--inputs", str(tmp_path / "inputs.npy"),
                   "-o", str(tmp_path / "out.npz")], f"inputs have shape {shape}")
    assert not (tmp_path / "out.npz").exists()


def test_a_folder_or_device_given_as_a_file_is_named_not_missing(tmp_path):
    (tmp_path / "data.npz").mkdir()
    line = fails_cleanly(["train", "--task", str(tmp_path / "data.npz"), *TINY_TRAIN, "-o", str(tmp_path / "n.npz")],
                         "data.npz: a directory, not a regular file")
    assert "no such" not in line
    line = fails_cleanly(["deploy", os.devnull], f"{os.devnull}: a character device, not a regular file")
    assert "no such" not in line


def rewrite_meta(path: Path, change) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = change(json.loads(arrays["meta_json"].tobytes()))
    arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)


@pytest.mark.parametrize("change, message", [
    (lambda meta: [meta], "corrupted metadata (a JSON list, expected an object)"),
    (lambda meta: {**meta, "v_reset": "abc"}, "metadata field 'v_reset' must be a finite number, got 'abc'"),
    (lambda meta: {**meta, "tau_out": None}, "metadata field 'tau_out' must be a finite number, got None"),
    (lambda meta: {**meta, "task_meta": [1]}, "metadata field 'task_meta' must be a dict"),
])
def test_malformed_network_metadata_is_named(tmp_path, change, message):
    path = save_network(random_network(np.random.default_rng(0)), tmp_path / "net.npz")
    rewrite_meta(path, change)
    with pytest.raises(NetworkFileError, match="net.npz: ") as info:
        load_network(path)
    assert message in str(info.value)
    fails_cleanly(["compile", str(path), "-o", str(tmp_path / "chip.npz")], message)
    assert files_in(tmp_path) == {"net.npz"}


def test_configuration_with_malformed_metadata_is_named(tmp_path):
    path = ChipConfig.empty(load_spec("dynapse1")).save(tmp_path / "chip.npz")
    rewrite_meta(path, lambda meta: {**meta, "meta": [1, 2]})
    with pytest.raises(ConfigError, match="field 'meta' must be an object"):
        ChipConfig.load(path)


# ---- 2. user data sets ------------------------------------------------------------------------
def user_data(tmp_path: Path, inputs: np.ndarray, labels: np.ndarray | None = None, **extra) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, inputs=inputs, labels=np.arange(len(inputs)) % 2 if labels is None else labels, **extra)
    return path


GOOD = RNG.random((12, 40, 2))


@pytest.mark.parametrize("arrays, message", [
    ({"inputs": np.zeros((12, 0, 2))}, "'inputs' has shape (12, 0, 2); need at least 1 time step and 1 channel"),
    ({"inputs": np.zeros((12, 40, 0))}, "'inputs' has shape (12, 40, 0); need at least 1 time step and 1 channel"),
    ({"inputs": GOOD, "n_classes": np.array([2, 3])}, "'n_classes' must be one integer, got int64 of shape (2,)"),
    ({"inputs": GOOD, "n_classes": np.array(2.0)}, "'n_classes' must be one integer, got float64"),
    ({"inputs": GOOD, "n_classes": np.array(10**9)}, "'n_classes' must be in 2..256, got 1000000000"),
    ({"inputs": GOOD, "labels": np.arange(12) * 10**8}, "'labels' go up to 1100000000; at most 256 classes"),
    ({"inputs": GOOD * 1e30}, "'inputs' reach magnitude 1e+30; the limit is 1e+06"),
    ({"inputs": np.where(GOOD > 0.5, np.inf, GOOD)}, "'inputs' contains NaN or infinite values"),
])
def test_bad_user_data_is_refused_before_training(tmp_path, arrays, message):
    path = user_data(tmp_path, **arrays)
    fails_cleanly(["train", "--task", str(path), *TINY_TRAIN, "-o", str(tmp_path / "net.npz")],
                  f"{path}: {message}", code=1)
    assert files_in(tmp_path) == {"data.npz"}


# ---- 3. a network trained on a user data set compiles without --task -------------------------
def test_compile_rebuilds_the_user_task_from_the_network(tmp_path):
    data = user_data(tmp_path, GOOD.astype(np.float32))
    net, chip = tmp_path / "net.npz", tmp_path / "chip.npz"
    result = CliRunner().invoke(main, ["train", "--task", str(data), *TINY_TRAIN, "--seed", "2", "-o", str(net)])
    assert result.exit_code == 0, result.output
    compile_args = ["compile", str(net), "--chips", "0", "--no-refit", "--backend", "numpy", "-o", str(chip)]
    result = CliRunner().invoke(main, compile_args)
    assert result.exit_code == 0, result.output
    assert load_network(net).meta["task_meta"]["source"] == str(data.resolve())
    chip.unlink()
    data.rename(tmp_path / "moved.npz")
    fails_cleanly(compile_args, f"task 'data' was trained on the data set {data.resolve()}, which no longer exists",
                  "--task")
    assert not chip.exists()


# ---- 4. chip spec files -----------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    ("cores = 1000000000", "field 'cores' = 1000000000 is too large (at most 64)"),
    ("cores = 1e9", "field 'cores' must be int, got 1000000000.0"),
    ("neurons_per_core = 100000", "field 'neurons_per_core' = 100000 is too large (at most 16384)"),
    ("inputs = 5000", "field 'inputs' = 5000 is too large (at most 4096)"),
    ("neurons_per_core = 16384", "cores × neurons_per_core = 65536 neurons; at most 16384 are supported"),
    ("fan_in = 2000", "field 'fan_in' = 2000 exceeds inputs + neurons = 1088"),
])
def test_absurd_spec_sizes_are_refused(tmp_path, change, message):
    builtin = (Path(__file__).parents[1] / "sim" / "chip" / "specs" / "dynapse1.toml").read_text()
    key = change.split(" =")[0]
    lines = [change if line.startswith(f"{key} =") else line for line in builtin.splitlines()]
    path = tmp_path / "huge.toml"
    path.write_text("\n".join(lines))
    with pytest.raises(SpecError, match=str(path)) as info:
        load_spec(path)
    assert message in str(info.value)
    fails_cleanly(["chip", "info", str(path)], f"{path}: {message}")


def test_absurd_json_spec_is_refused(tmp_path):
    spec = {**load_spec("dynapse1").to_dict(), "inputs": 10**12}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    fails_cleanly(["chip", "info", str(tmp_path / "spec.json")], "field 'inputs' = 1000000000000 is too large")


def test_unknown_spec_name_lists_the_built_ins():
    fails_cleanly(["chip", "info", "loihi"], "unknown chip spec 'loihi'", "dynapse1, dense1k")


# ---- 5. output paths --------------------------------------------------------------------------
def output_commands(tmp_path: Path, bad: str) -> list[list[str]]:
    """Every command that writes, with `bad` as one of its output paths (inputs are valid)."""
    net = save_network(random_network(np.random.default_rng(0), n_in=1), tmp_path / "net.npz")
    config = ChipConfig.empty(load_spec("dynapse1")).save(tmp_path / "chip.npz")
    np.save(tmp_path / "inputs.npy", np.zeros((5, 64), np.uint8))
    return [
        ["train", "--task", "xor", *TINY_TRAIN, "-o", bad],
        ["compile", str(net), "--task", "xor", "-o", bad],
        ["compile", str(net), "--task", "xor", "-o", str(tmp_path / "c.npz"), "--report", bad],
        ["chip", "run", str(config), "--inputs", str(tmp_path / "inputs.npy"), "-o", bad],
        ["robustness", "--train", "--task", "xor", "--out-dir", bad],
        ["robustness", str(net), "--task", "xor", "--json", bad],
    ]


def test_output_under_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "somefile.txt").write_text("x")
    bad = str(tmp_path / "somefile.txt" / "out.npz")
    for args in output_commands(tmp_path, bad):
        before = files_in(tmp_path)
        fails_cleanly(args, f"cannot write {bad}: {tmp_path / 'somefile.txt'} is not a directory", code=1)
        assert files_in(tmp_path) == before, args


def test_output_that_is_a_directory_is_refused(tmp_path):
    (tmp_path / "out.npz").mkdir()
    fails_cleanly(["train", "--task", "xor", "-o", str(tmp_path / "out.npz")], "out.npz' is a directory", code=2)


def test_output_in_a_read_only_directory_is_refused(tmp_path, monkeypatch):
    """A real read-only folder where permissions apply; otherwise `os.access` answers as if it were one."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root ignores permissions
        monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != folder)
    bad = str(folder / "sub" / "out.npz")
    for args in output_commands(tmp_path, bad):
        fails_cleanly(args, f"cannot write {bad}: directory {folder} is not writable", code=1)
    assert files_in(folder) == set()


def special_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """A FIFO, a socket and a character device, each with the kind the error names."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    sock.close()
    return {"fifo": (fifo, "a FIFO"), "socket": (tmp_path / "sock", "a socket"),
            "device": (Path(os.devnull), "a character device")}


def test_output_that_is_a_device_fifo_or_socket_is_refused(tmp_path):
    for path, kind in special_files(tmp_path).values():
        mode = path.stat().st_mode
        for args in output_commands(tmp_path, str(path))[:4]:
            fails_cleanly(args, f"cannot write {path}: it is {kind}, not a regular file", code=1)
        with pytest.raises(OutputError, match=f"it is {kind}"):
            write_text(path, "x")
        assert path.stat().st_mode == mode  # still what it was


def test_output_that_is_an_input_of_the_command_is_refused(tmp_path):
    """calibrate C -o C, compile N -o N (also through another spelling of the path), and every
    other command whose output names one of its inputs: refused, the input untouched."""
    net = save_network(random_network(np.random.default_rng(0), n_in=1), tmp_path / "net.npz")
    config = ChipConfig.empty(load_spec("dynapse1")).save(tmp_path / "chip.npz")
    np.save(tmp_path / "inputs.npy", np.zeros((5, 64), np.uint8))
    data = user_data(tmp_path, RNG.random((40, 20, 2)), np.arange(40) % 2)
    (tmp_path / "sub").mkdir()
    cases = [
        (["calibrate", str(config), "-o", str(config)], "--out", "COMPILED"),
        (["compile", str(net), "-o", str(tmp_path / "sub" / ".." / "net.npz")], "--out", "NET"),
        (["compile", str(net), "-o", str(tmp_path / "c.npz"), "--report", str(tmp_path / "c.npz")], "--report",
         "output --out"),
        (["chip", "run", str(config), "--inputs", str(tmp_path / "inputs.npy"), "-o", str(config)], "--out",
         "CONFIG_FILE"),
        (["chip", "run", str(config), "--inputs", str(tmp_path / "inputs.npy"), "-o", str(tmp_path / "inputs.npy")],
         "--out", "input --inputs"),
        (["train", "--task", str(data), "-o", str(data)], "--out", "input --task"),
        (["robustness", str(net), "--task", "xor", "--json", str(net)], "--json", "NETWORKS"),
    ]
    before = {p: p.read_bytes() for p in (net, config, data, tmp_path / "inputs.npy")}
    for args, option, role in cases:
        fails_cleanly(args, f"refusing to write {option} ", role, "choose another output path", code=1)
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "c.npz").exists()


def test_an_output_named_like_a_task_is_not_an_input(tmp_path, monkeypatch):
    from harness.commands.outputs import check_apart
    monkeypatch.chdir(tmp_path)
    check_apart({"task_name": "xor", "out": Path("xor")}, ("task_name",), ("out",))  # no file xor: no clash


def test_report_into_an_unwritable_run_directory_is_one_line(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start("x = 1\n", {})
    run.summary_path.mkdir()  # summary.json is written first
    fails_cleanly(["report", str(run.root)], f"cannot write {run.summary_path}", "it is a directory", code=1)


def test_write_atomic_failure_is_an_output_error_and_leaves_no_debris(tmp_path, monkeypatch):
    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sim.atomic.os, "replace", full_disk)
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'a.txt'}: No space left on device"):
        write_text(tmp_path / "a.txt", "hello")
    assert files_in(tmp_path) == set()


def test_check_writable_creates_nothing(tmp_path):
    assert check_writable(tmp_path / "new" / "deeper" / "out.npz") == tmp_path / "new" / "deeper" / "out.npz"
    assert check_writable(tmp_path / "new", folder=True) == tmp_path / "new"
    assert files_in(tmp_path) == set()


# ---- 5b. calibration files --------------------------------------------------------------------
@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """(compiled network file, a valid calibration of chip seed 2 at spec mismatch for it)."""
    from harness.compiler import compile_network  # noqa: PLC0415
    from sim.tasks.xor import make_xor  # noqa: PLC0415
    folder = tmp_path_factory.mktemp("calibrated")
    task = make_xor(0, n_train=16, n_val=8, n_test=8, n_steps=500)
    network = random_network(np.random.default_rng(0), n=24, n_in=1)
    network.meta.update(task="xor", task_meta={"seed": 0, "n_train": 16, "n_val": 8, "n_test": 8, "n_steps": 500},
                        method="test")
    compiled = compile_network(network, "dynapse1", task.train.inputs).save(folder / "c.npz")
    result = CliRunner().invoke(main, ["calibrate", str(compiled), "--chip-seed", "2", "--trials", "4", "-o",
                                       str(folder / "cal.json")])
    assert result.exit_code == 0, result.output
    return compiled, json.loads((folder / "cal.json").read_text())


def edited(record: dict, path: str, value) -> dict:
    record = json.loads(json.dumps(record))
    *parents, last = path.split(".")
    target = record
    for part in parents:
        target = target[part]
    target[last] = value(target[last]) if callable(value) else value
    return record


@pytest.mark.parametrize("path, value, message", [
    ("trials", -1, "field 'trials' must be an integer >= 1, got -1"),
    ("trials", 3, "field 'trials' is 3: calibration trials are a multiple of the task's 2 classes"),
    ("trials", 64, "at most its train split's 16 samples"),
    ("split", "test", "field 'split' must be 'train' or 'val', got 'test'"),
    ("decoder.w_out", lambda w: [[float("nan")] * len(w[0])] + w[1:], "field 'decoder.w_out' has 1 values that are "
                                                                        "not finite"),
    ("decoder.bias", [float("inf")], "field 'decoder.bias' has 1 values that are not finite"),
    ("decoder.tau_out", -70.0, "field 'decoder.tau_out' must be a finite number > 0, got -70.0"),
    ("decoder.tau_out", 0, "field 'decoder.tau_out' must be a finite number > 0, got 0"),
    ("decoder.tau_out", 35.0, "field 'decoder.tau_out' is 35, not the compiled decoder's"),
    ("decoder.neurons", lambda n: [n[0] + 1] + n[1:], "field 'decoder.neurons' reads out neurons"),
    ("decoder.w_out", lambda w: w[:-1], "field 'decoder.w_out' must be a list of numbers of shape"),
    ("ridge.strength", float("nan"), "field 'ridge.strength' must be a finite number > 0"),
    ("chip.spec_name", "dense1k", "cal.json: this calibration was made for spec name dense1k, not dynapse1 (field 'chip.spec_name')"),
    ("chip.chip_id", "seed:3", "made for chip seed:3, not seed:2 (field 'chip.chip_id')"),
    ("chip.mismatch", "0.0", "made for chip seed:2 at mismatch 0.0, not at mismatch spec (field 'chip.mismatch')"),
    ("network", "0123456789abcdef", "(field 'network')"),
])
def test_a_calibration_file_is_checked_field_by_field(tmp_path, calibrated, path, value, message):
    compiled, record = calibrated
    (tmp_path / "cal.json").write_text(json.dumps(edited(record, path, value)))
    fails_cleanly(["deploy", str(compiled), "--chip-seed", "2", "--calibration", str(tmp_path / "cal.json")],
                  message, code=1)


def test_a_calibration_is_refused_on_the_same_chip_at_another_mismatch(tmp_path, calibrated):
    compiled, record = calibrated
    (tmp_path / "cal.json").write_text(json.dumps(record))
    fails_cleanly(["deploy", str(compiled), "--chip-seed", "2", "--mismatch", "0", "--calibration",
                   str(tmp_path / "cal.json")], "at mismatch spec, not at mismatch 0 (field 'chip.mismatch')", code=1)


def test_a_binary_file_as_calibration_is_one_clean_line(tmp_path, calibrated):
    compiled, _ = calibrated
    (tmp_path / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    line = fails_cleanly(["deploy", str(compiled), "--calibration", str(tmp_path / "plot.png")],
                         "plot.png: not a calibration file (binary data, not JSON", code=1)
    assert "\\x" not in line and "PNG" not in line


# ---- 6. supply setpoints ----------------------------------------------------------------------
@pytest.mark.parametrize("value, shown", [("nan", "nan V"), ("inf", "inf V"), ("-1", "-1 V")])
def test_non_finite_or_negative_voltage_is_refused(value, shown):
    fails_cleanly(["instruments", "set-voltage", "--", value],
                  f"voltage {shown} refused: it must be a finite number >= 0 V", code=1)


def test_refused_setpoint_is_never_sent():
    class Resource:
        resource_name = "FAKE::INSTR"
        written: list[str] = []

        def write(self, command: str) -> None:
            self.written.append(command)

    supply = PowerSupply(Resource())
    for bad in (float("nan"), float("-inf"), -0.5):
        with pytest.raises(InstrumentError, match=">= 0"):
            supply.set_voltage(bad)
        with pytest.raises(InstrumentError, match="current limit .* >= 0 A"):
            supply.set_current_limit(bad)
    assert Resource.written == []


# ---- 7. file modes ----------------------------------------------------------------------------
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    sim.atomic._file_mode.cache_clear()
    try:
        path = write_text(tmp_path / "out.txt", "x")
    finally:
        os.umask(old)
        sim.atomic._file_mode.cache_clear()
    assert stat.S_IMODE(path.stat().st_mode) == mode

"""accelerator node: models by name, Infer service, streaming, energy reports, hot reload,
and a broken model file that does not stop the others."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import nir
import numpy as np
import pytest
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from neuro_interfaces.msg import EnergyReport
from neuro_interfaces.srv import Infer
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from ros_helpers import spin_until
from std_msgs.msg import Float32MultiArray

from neuro_nodes.accel.runtime import AccelModel
from neuro_nodes.ros.accelerator import from_array, to_array
from neuro_nodes.ros.qos import RELIABLE_QOS
from neuro_nodes.snn import LIFCell, LIFParameters, SpikingSequential, export_nir

pytestmark = pytest.mark.ros
SCRIPT = Path(sys.executable).parent / "neuro-accelerator"
DT = 1e-3


def tiny_net(seed: int, n_in: int = 6, n_hidden: int = 5, n_out: int = 3) -> nir.NIRGraph:
    torch.manual_seed(seed)
    p = LIFParameters(tau_mem=5e-3, v_th=0.5)
    net = SpikingSequential(torch.nn.Linear(n_in, n_hidden), LIFCell(p, DT),
                            torch.nn.Linear(n_hidden, n_out), LIFCell(p, DT))
    return export_nir(net, DT, (n_in,))


def infer(node, client, model: str, x: np.ndarray, reset: bool = True) -> Infer.Response:
    req = Infer.Request(model=model, input=x.ravel().tolist(), shape=list(x.shape),
                        reset_state=reset)
    future = client.call_async(req)
    assert spin_until(node, future.done, 30.0)
    return future.result()


def test_accelerator_serves_streams_reports_and_reloads(tmp_path: Path) -> None:
    nir.write(tmp_path / "alpha.nir", tiny_net(0))
    (tmp_path / "broken.nir").write_bytes(b"not an hdf5 file")
    proc = subprocess.Popen([str(SCRIPT), "--ros-args", "-p", f"model_dir:={tmp_path}",
                             "-p", "reload_period:=0.5", "-p", "energy_period:=0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node("accel_probe")
    reports: list[EnergyReport] = []
    outputs: list[Float32MultiArray] = []
    node.create_subscription(EnergyReport, "/accel/energy", reports.append, RELIABLE_QOS)
    node.create_subscription(Float32MultiArray, "/accel/alpha/output", outputs.append, 10)
    stream = node.create_publisher(Float32MultiArray, "/accel/alpha/input", 10)
    client = node.create_client(Infer, "/accel/infer")
    try:
        assert client.wait_for_service(timeout_sec=60)
        rng = np.random.default_rng(1)
        x = (rng.random((20, 2, 6)) < 0.4).astype(np.float32)  # [T, B, inputs] spikes
        res = infer(node, client, "alpha", x)
        assert res.success, res.message
        reference = AccelModel(tmp_path / "alpha.nir", backend="dense").run(torch.from_numpy(x))
        got = np.asarray(res.output, np.float32).reshape(res.shape)
        np.testing.assert_array_equal(got, reference.numpy())
        assert res.energy.synaptic_ops > 0 and res.energy.energy_j > 0
        assert res.energy.time_steps == 20

        bad = infer(node, client, "alpha", np.zeros((4, 1, 7), np.float32))
        assert not bad.success and "input" in bad.message
        broken = infer(node, client, "broken", x)
        assert not broken.success and "broken" in broken.message

        # streaming: state kept between steps, same as one batch run
        assert spin_until(node, lambda: stream.get_subscription_count() > 0, 30.0)
        assert infer(node, client, "alpha", x[:1], reset=True).success  # reset the state
        for t in range(1, 5):
            stream.publish(from_array(x[t]))
            assert spin_until(node, lambda t=t: len(outputs) >= t, 20.0)
        streamed = np.stack([to_array(m) for m in outputs[:4]])
        np.testing.assert_array_equal(streamed, reference.numpy()[1:5])

        assert spin_until(node, lambda: any(r.model == "alpha" and r.layers for r in reports),
                          20.0)

        # hot reload: a new model is served without a restart
        nir.write(tmp_path / "beta.nir", tiny_net(2, n_out=2))
        deadline = time.monotonic() + 20
        res = None
        while time.monotonic() < deadline:
            res = infer(node, client, "beta", x)
            if res.success:
                break
            spin_until(node, lambda: False, 0.3)
        assert res is not None and res.success and list(res.shape) == [20, 2, 2]
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert "broken" in output  # the load error was reported, naming the file


# -- bad input (issue 9) -------------------------------------------------------------------
class Probe:
    """A probe node beside a running accelerator: Infer, energy reports, diagnostics,
    parameter changes through the node's parameter service."""

    def __init__(self) -> None:
        rclpy.init()
        self.node = rclpy.create_node("accel_bad_input_probe")
        self.reports: list[EnergyReport] = []
        self.diags: list[DiagnosticStatus] = []
        self.node.create_subscription(EnergyReport, "/accel/energy", self.reports.append,
                                      RELIABLE_QOS)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: self.diags.extend(
            s for s in m.status if s.hardware_id.endswith("accelerator")), 10)
        self.client = self.node.create_client(Infer, "/accel/infer")
        self.params = self.node.create_client(SetParameters, "/accelerator/set_parameters")

    def infer(self, model: str, x: np.ndarray) -> Infer.Response:
        return infer(self.node, self.client, model, x)

    def set_param(self, name: str, value: str) -> tuple[bool, str]:
        assert self.params.wait_for_service(timeout_sec=30)
        req = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        future = self.params.call_async(req)
        assert spin_until(self.node, future.done, 30.0)
        result = future.result().results[0]
        return result.successful, result.reason

    def diag_values(self, since: int = 0) -> dict[str, str]:
        """Key-values of the newest accelerator diagnostics after the first ``since``."""
        assert spin_until(self.node, lambda: len(self.diags) > since, 10.0)
        return {kv.key: kv.value for kv in self.diags[-1].values} | {
            "_level": self.diags[-1].level, "_message": self.diags[-1].message}

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown()


def start(model_dir: Path, *params: str) -> subprocess.Popen:
    args = [f"model_dir:={model_dir}", "reload_period:=0.3", "energy_period:=0.3", *params]
    return subprocess.Popen([str(SCRIPT), "--ros-args", *[a for p in args for a in ("-p", p)]],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    alive = proc.poll() is None
    proc.terminate()
    output = proc.communicate(timeout=30)[0]
    assert alive, f"the accelerator died:\n{output}"
    assert proc.returncode == 0 and "Traceback" not in output, output
    return output


def spikes(shape=(10, 1, 6), seed: int = 3) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < 0.4).astype(np.float32)


def test_profile_without_figure_keeps_serving_at_start_up_and_after_a_runtime_change(
        tmp_path: Path) -> None:
    nir.write(tmp_path / "alpha.nir", tiny_net(0))
    proc = start(tmp_path, "profile:=speck")
    probe = Probe()
    try:
        assert probe.client.wait_for_service(timeout_sec=60)
        res = probe.infer("alpha", spikes())
        assert res.success and "no energy figure" in res.message and "speck" in res.message
        assert np.isnan(res.energy.energy_j) and res.energy.synaptic_ops > 0
        assert spin_until(probe.node, lambda: any(r.profile == "speck" for r in probe.reports),
                          10.0)
        speck = next(r for r in probe.reports if r.profile == "speck")
        assert np.isnan(speck.energy_j) and speck.time_steps == 10
        values = probe.diag_values(len(probe.diags))
        assert "speck" in values["warn:energy"] and values["_level"] == DiagnosticStatus.WARN

        assert probe.set_param("profile", "loihi") == (True, "")
        res = probe.infer("alpha", spikes())
        assert res.success and res.message == "" and res.energy.energy_j > 0
        assert "warn:energy" not in probe.diag_values(len(probe.diags))

        assert probe.set_param("profile", "speck")[0]  # accepted at runtime: must not kill it
        spin_until(probe.node, lambda: False, 1.0)  # energy timers run on the new profile
        res = probe.infer("alpha", spikes())
        assert res.success and np.isnan(res.energy.energy_j)
        ok, reason = probe.set_param("profile", "tpu")
        assert not ok and "tpu" in reason
        assert probe.infer("alpha", spikes()).success
    finally:
        probe.close()
        output = stop(proc)
    assert "no energy figure" in output or "no figure" in output


def test_non_finite_input_and_broken_update_are_reported(tmp_path: Path) -> None:
    nir.write(tmp_path / "alpha.nir", tiny_net(0))
    proc = start(tmp_path)
    probe = Probe()
    outputs: list[Float32MultiArray] = []
    probe.node.create_subscription(Float32MultiArray, "/accel/alpha/output", outputs.append, 10)
    stream = probe.node.create_publisher(Float32MultiArray, "/accel/alpha/input", 10)
    try:
        assert probe.client.wait_for_service(timeout_sec=60)
        good = probe.infer("alpha", spikes())
        assert good.success
        for value in (np.nan, np.inf, -np.inf):
            x = spikes()
            x[3, 0, 2] = value
            res = probe.infer("alpha", x)
            assert not res.success and "NaN or Inf" in res.message and "[3, 0, 2]" in res.message
            assert list(res.output) == []
        assert spin_until(probe.node, lambda: stream.get_subscription_count() > 0, 30.0)
        bad_step = spikes()[0]
        bad_step[0, 1] = np.nan
        stream.publish(from_array(bad_step))
        stream.publish(from_array(spikes()[1]))
        assert spin_until(probe.node, lambda: len(outputs) >= 1, 20.0)
        assert spin_until(probe.node, lambda: int(probe.diag_values().get(
            "error:non_finite_input", 0)) >= 4, 10.0)
        assert len(outputs) == 1  # the NaN step produced nothing, the next one an answer
        # nothing lost: the model still gives the answer it gave before the bad requests
        again = probe.infer("alpha", spikes())
        assert again.success and list(again.output) == list(good.output)

        # a served file replaced by a broken one: the last good version answers, and says so
        (tmp_path / "alpha.nir").write_bytes(b"half-written garbage")
        assert spin_until(probe.node, lambda: "warn:model:alpha" in probe.diag_values(), 15.0)
        warn = probe.diag_values()["warn:model:alpha"]
        assert str(tmp_path / "alpha.nir") in warn and "HDF5" in warn
        stale = probe.infer("alpha", spikes())
        assert stale.success and list(stale.output) == list(good.output)
        assert "last good version" in stale.message and "alpha.nir" in stale.message
        # repaired: the warning goes and the answer no longer carries the note
        nir.write(tmp_path / "alpha.nir", tiny_net(0))
        assert spin_until(probe.node, lambda: "warn:model:alpha" not in probe.diag_values(
            len(probe.diags)), 15.0)
        fixed = probe.infer("alpha", spikes())
        assert fixed.success and fixed.message == ""

        # the folder itself goes away: said on /diagnostics, the node keeps running
        shutil.rmtree(tmp_path)
        assert spin_until(probe.node, lambda: "no longer a directory" in probe.diag_values(
            len(probe.diags)).get("warn:model_dir", ""), 15.0)
        gone = probe.infer("alpha", spikes())
        assert not gone.success and "no model 'alpha'" in gone.message
    finally:
        probe.close()
        stop(proc)


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_model_dir_that_is_not_a_directory_is_refused_at_start_up(tmp_path: Path,
                                                                  kind: str) -> None:
    path = tmp_path / "nonexistent"
    if kind == "file":
        path = tmp_path / "alpha.nir"
        nir.write(path, tiny_net(0))
    proc = subprocess.run([str(SCRIPT), "--ros-args", "-p", f"model_dir:={path}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    expected = "no such directory" if kind == "missing" else "not a directory"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"model_dir: {path}: {expected}" in lines[0], proc.stderr
    assert (kind == "file") == path.exists()  # nothing created, nothing removed

"""accelerator node: models by name, Infer service, streaming, energy reports, hot reload,
and a broken model file that does not stop the others."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nir
import numpy as np
import pytest
import rclpy
import torch
from neuro_interfaces.msg import EnergyReport
from neuro_interfaces.srv import Infer
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

"""ModelRegistry: good and bad files side by side, reloads, thread-safe reads; bad graphs
raise AccelError naming the node and primitive; the Lava backend explains itself."""

from __future__ import annotations

import os
import threading

import h5py
import nir
import pytest
import torch
from accel_nets import DT, make_graph
from torch import nn

from neuro_nodes.accel import AccelError, AccelModel, BackendUnavailable, ModelRegistry
from neuro_nodes.accel import lava as lava_module
from neuro_nodes.snn import LIFCell, SpikingSequential, export_nir


def write_good(path, seed=0):
    graph, _ = make_graph("mlp", seed)
    nir.write(path, graph)


def write_unknown_primitive(path):
    nir.write(path, export_nir(SpikingSequential(nn.Linear(2, 3), LIFCell()), DT, (2,)))
    with h5py.File(path, "r+") as f:
        del f["node/nodes/1/type"]
        f["node/nodes/1/type"] = "Bogus"


def bump_mtime(path, seconds=5):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9))


def test_registry_serves_good_models_and_records_bad_ones(tmp_path):
    write_good(tmp_path / "walker.nir")
    (tmp_path / "garbage.nir").write_bytes(b"not hdf5 at all")
    write_unknown_primitive(tmp_path / "odd.nir")
    (tmp_path / "notes.txt").write_text("ignored")
    reg = ModelRegistry(tmp_path)
    assert reg.names() == ["walker"] and "walker" in reg and len(reg) == 1
    assert set(reg.errors()) == {"garbage", "odd"}
    assert "not an HDF5 file" in reg.errors()["garbage"]
    assert "'Bogus'" in reg.errors()["odd"] and "node '1'" in reg.errors()["odd"]
    model = reg.get("walker")
    assert isinstance(model, AccelModel) and model.name == "walker"
    assert model.run(torch.zeros(2, 1, 16)).shape == (2, 1, 5)
    with pytest.raises(AccelError, match="odd.*failed to load.*Bogus"):
        reg.get("odd")
    with pytest.raises(KeyError, match="no model 'missing'"):
        reg.get("missing")
    status = reg.status()
    assert status["walker"]["loaded"] and not status["odd"]["loaded"]


def test_reload_detects_added_changed_and_removed_files(tmp_path):
    write_good(tmp_path / "a.nir")
    reg = ModelRegistry(tmp_path)
    first = reg.get("a")
    assert not reg.reload().any  # nothing changed

    write_good(tmp_path / "b.nir", seed=1)
    report = reg.reload()
    assert report.added == ["b"] and reg.names() == ["a", "b"]

    write_good(tmp_path / "a.nir", seed=2)
    bump_mtime(tmp_path / "a.nir")
    report = reg.reload()
    assert report.changed == ["a"] and reg.get("a") is not first

    (tmp_path / "b.nir").unlink()
    report = reg.reload()
    assert report.removed == ["b"] and reg.names() == ["a"]
    with pytest.raises(KeyError):
        reg.get("b")


def test_a_broken_update_keeps_serving_the_last_good_model(tmp_path):
    path = tmp_path / "a.nir"
    write_good(path)
    reg = ModelRegistry(tmp_path)
    good = reg.get("a")
    path.write_bytes(b"half-written")
    bump_mtime(path)
    report = reg.reload()
    assert report.changed == ["a"] and "a" in report.failed
    assert reg.get("a") is good and reg.status()["a"]["stale"]
    write_good(path, seed=3)
    bump_mtime(path, 10)
    reg.reload()
    assert reg.get("a") is not good and reg.errors() == {}


def test_get_is_thread_safe_during_reloads(tmp_path):
    write_good(tmp_path / "a.nir")
    reg = ModelRegistry(tmp_path)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                assert reg.get("a").name == "a"
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(5):
        write_good(tmp_path / "a.nir", seed=i)
        bump_mtime(tmp_path / "a.nir", i + 1)
        write_good(tmp_path / f"extra{i}.nir")
        reg.reload()
    stop.set()
    for t in threads:
        t.join()
    assert not errors and len(reg) == 6


def test_missing_directory_is_empty(tmp_path):
    reg = ModelRegistry(tmp_path / "nope")
    assert reg.names() == [] and not reg.reload().any


# -- bad graphs --------------------------------------------------------------------------
def test_malformed_file_and_unknown_primitive_name_file_node_and_primitive(tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"garbage")
    with pytest.raises(AccelError, match=r"bad\.nir.*not an HDF5 file"):
        AccelModel(bad, DT)
    odd = tmp_path / "odd.nir"
    write_unknown_primitive(odd)
    with pytest.raises(AccelError, match=r"node '1'.*'Bogus'") as e:
        AccelModel(odd, DT)
    assert (e.value.node, e.value.primitive) == ("1", "Bogus")


def test_shape_mismatch_names_the_node_and_primitive():
    import numpy as np

    w = np.ones((6, 4), np.float32)
    lif5 = nir.LIF(tau=np.full(5, 1e-2), r=np.ones(5), v_leak=np.zeros(5),
                   v_threshold=np.ones(5))
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([4])), "fc": nir.Linear(w), "lif": lif5,
               "out": nir.Output(np.array([5]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")], type_check=False)
    with pytest.raises(AccelError, match=r"node 'lif'") as e:
        AccelModel(graph, DT)
    assert (e.value.node, e.value.primitive) == ("lif", "LIF")


def test_graph_without_dt_needs_one():
    graph, _ = make_graph("mlp")
    graph.metadata = {}
    with pytest.raises(AccelError, match="dt"):
        AccelModel(graph)


def test_lava_backend_says_how_to_install(monkeypatch):
    monkeypatch.setattr(lava_module.importlib.util, "find_spec", lambda name: None)
    graph, _ = make_graph("mlp")
    with pytest.raises(BackendUnavailable, match="pip install lava-nc"):
        AccelModel(graph, DT, backend="lava")
    with pytest.raises(ValueError, match="backend"):
        AccelModel(graph, DT, backend="loihi")

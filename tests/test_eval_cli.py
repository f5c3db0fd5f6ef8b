"""``neuro eval flow|egomotion``: JSON contract, zero-motion row, skipped methods, bags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from neuro_nodes.cli.main import main

SCENE = "6dof-grid-x1-s4"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval_cache")


@pytest.fixture(autouse=True)
def keep_threads():  # noqa: ANN201 - the command sets one torch thread; restore it
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["eval", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_egomotion_json(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "egomotion", "--quick", "--scene", SCENE, "--max-windows", "1",
                   "--methods", "cmax,no_such_method", "--cache", str(cache))
    assert out["sequences"] == [SCENE] and out["quick"] is True
    cmax, zero = out["methods"]["cmax"], out["methods"]["zero"]
    assert cmax["windows"] == zero["windows"] == 1
    assert 0 < cmax["omega_rms_pct"] < 0.6 * zero["omega_rms_pct"]
    assert cmax["windows_per_s"] > 0
    assert cmax["sequences"][SCENE]["omega_rms"] == pytest.approx(cmax["omega_rms"])
    assert any("no_such_method: not registered" in n for n in out["notes"])
    assert "no_such_method" not in out["methods"]


def test_flow_json(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "flow", "--quick", "--scene", SCENE, "--max-windows", "1",
                   "--methods", "cmax", "--cache", str(cache))
    cmax, zero = out["methods"]["cmax"], out["methods"]["zero"]
    for key in ("aee", "out3", "aee_dt4", "out3_dt4"):
        assert cmax[key] is not None and zero[key] is not None
    assert cmax["aee"] < 0.7 * zero["aee"]
    assert cmax["aee_dt4"] == pytest.approx(4 * cmax["aee"], rel=1e-6)


def test_table_and_summary_line(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "egomotion", "--quick", "--scene", SCENE, "--max-windows", "1",
                 "--methods", "cmax", "--cache", str(cache)]) == 0
    text = capsys.readouterr().out
    assert "eval egomotion: cmax omega_rms_pct=" in text and "zero omega_rms_pct=" in text


@pytest.mark.parametrize("args, message", [
    (["--scene", "spinning"], "--scene 'spinning': not a motion"),
    (["--events", "5"], "--events must be at least 100"),
    (["--bag", "/nonexistent/bag"], "/nonexistent/bag"),
])
def test_bad_arguments_exit_2(args: list[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "flow", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bag_contrast_gain(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = shared_data / "event_camera_py_test_events_2"
    out = run_json(capsys, "egomotion", "--bag", str(bag), "--quick", "--max-windows", "2",
                   "--methods", "cmax")
    assert out["events"] == 360223 + 211043  # the README's known answer
    assert out["camera"]["width"] == 346 and "assumed" in out["camera"]["source"]
    assert out["methods"]["zero"]["contrast_gain"] == pytest.approx(1.0)
    cmax = out["methods"]["cmax"]
    assert cmax["windows"] == 2 and cmax["contrast_gain"] >= 1.0
    assert cmax["omega_abs_mean"] is not None


def test_no_imu_hides_the_gyro(cache: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from neuro_nodes.perception import registry
    from neuro_nodes.perception.types import MotionEstimate

    seen: list[bool] = []

    class Probe:
        name = "probe"

        def __init__(self, camera: object) -> None:
            pass

        def reset(self) -> None:
            pass

        def process(self, window):  # noqa: ANN001, ANN201
            seen.append(window.imu is not None)
            return MotionEstimate(t_ref_s=window.t_ref_s)

    monkeypatch.setitem(registry.METHODS, "probe", Probe)
    common = ("egomotion", "--quick", "--scene", SCENE, "--max-windows", "1",
              "--methods", "probe", "--cache", str(cache))
    assert run_json(capsys, *common)["imu"] is True and seen == [True]
    assert run_json(capsys, *common, "--no-imu")["imu"] is False and seen == [True, False]

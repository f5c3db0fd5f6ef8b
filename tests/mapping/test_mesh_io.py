"""PLY write/read: exact round trip, open3d reads what we write and we read what it writes."""

from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest

from neuro_nodes.mapping.mesh_io import read_ply, write_ply
from neuro_nodes.mapping.types import TriangleMesh


def _random_mesh(n_vertices: int = 500, n_triangles: int = 900) -> TriangleMesh:
    rng = np.random.default_rng(11)
    v = rng.normal(size=(n_vertices, 3)).astype(np.float32)
    f = rng.integers(0, n_vertices, (n_triangles, 3)).astype(np.int32)
    return TriangleMesh(v, f)


def test_round_trip_is_exact(tmp_path):
    mesh = _random_mesh()
    path = tmp_path / "m.ply"
    write_ply(mesh, path)
    assert path.read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")
    back = read_ply(path)
    np.testing.assert_array_equal(back.vertices, mesh.vertices)
    np.testing.assert_array_equal(back.triangles, mesh.triangles)
    assert back.vertices.dtype == np.float32 and back.triangles.dtype == np.int32


def test_empty_mesh_round_trips(tmp_path):
    empty = TriangleMesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32))
    write_ply(empty, tmp_path / "e.ply")
    back = read_ply(tmp_path / "e.ply")
    assert back.vertices.shape == (0, 3) and back.triangles.shape == (0, 3)


def test_open3d_reads_our_files_and_we_read_its_files(tmp_path):
    mesh = _random_mesh()
    write_ply(mesh, tmp_path / "ours.ply")
    theirs = o3d.io.read_triangle_mesh(str(tmp_path / "ours.ply"))
    np.testing.assert_array_equal(np.asarray(theirs.vertices, np.float32), mesh.vertices)
    np.testing.assert_array_equal(np.asarray(theirs.triangles), mesh.triangles)
    sphere = o3d.geometry.TriangleMesh.create_sphere(0.5, 12)
    sphere.compute_vertex_normals()
    sphere.paint_uniform_color([0.2, 0.4, 0.6])
    for ascii_ in (False, True):
        path = tmp_path / f"o3d_{ascii_}.ply"
        o3d.io.write_triangle_mesh(str(path), sphere, write_ascii=ascii_)
        back = read_ply(path)
        np.testing.assert_allclose(back.vertices, np.asarray(sphere.vertices), atol=1e-6)
        np.testing.assert_array_equal(back.triangles, np.asarray(sphere.triangles))


def test_quads_are_fan_triangulated(tmp_path):
    path = tmp_path / "quad.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\n"
                    "property float y\nproperty float z\nelement face 1\n"
                    "property list uchar int vertex_indices\nend_header\n"
                    "0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n")
    back = read_ply(path)
    np.testing.assert_array_equal(back.triangles, [[0, 1, 2], [0, 2, 3]])


def test_bad_files_and_meshes_raise_value_error(tmp_path):
    mesh = _random_mesh()
    write_ply(mesh, tmp_path / "m.ply")
    raw = (tmp_path / "m.ply").read_bytes()
    (tmp_path / "cut.ply").write_bytes(raw[: len(raw) - 100])
    (tmp_path / "junk.ply").write_bytes(b"solid stl, not ply\n")
    (tmp_path / "nohdr.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\n")
    for name in ("cut", "junk", "nohdr"):
        with pytest.raises(ValueError):
            read_ply(tmp_path / f"{name}.ply")
    with pytest.raises(ValueError, match="index"):
        write_ply(TriangleMesh(mesh.vertices[:3], mesh.triangles), tmp_path / "x.ply")
    with pytest.raises(ValueError, match="finite"):
        write_ply(TriangleMesh(np.full((3, 3), np.nan, np.float32),
                               np.array([[0, 1, 2]], np.int32)), tmp_path / "x.ply")
    with pytest.raises(ValueError, match="vertices"):
        write_ply(TriangleMesh(np.zeros((3, 2), np.float32), np.zeros((1, 3), np.int32)),
                  tmp_path / "x.ply")

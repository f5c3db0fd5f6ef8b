"""Triangle meshes to and from ``.ply`` (what MeshLab, Foxglove, open3d and Blender read).

:func:`write_ply` writes binary little-endian PLY: ``element vertex`` with ``float x, y, z``
and ``element face`` with ``list uchar int vertex_indices`` (triangles). :func:`read_ply`
reads that and the usual variants written by other tools (ascii or binary of either byte
order, extra scalar vertex properties such as normals or colours, which are dropped;
polygon faces are fan-triangulated).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuro_nodes.mapping.types import TriangleMesh

_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2",
          "int16": "i2", "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4",
          "uint": "u4", "uint32": "u4", "float": "f4", "float32": "f4", "double": "f8",
          "float64": "f8"}


def write_ply(mesh: TriangleMesh, path: Path) -> None:
    """Write ``mesh`` as binary little-endian PLY to ``path``."""
    v = np.asarray(mesh.vertices)
    f = np.asarray(mesh.triangles)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"mesh needs (V, 3) vertices and (F, 3) triangles, got {v.shape} "
                         f"and {f.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("mesh vertices must be finite")
    if len(f) and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError("mesh triangles index vertices that do not exist")
    header = ("ply\nformat binary_little_endian 1.0\ncomment neuro_nodes mapping mesh\n"
              f"element vertex {len(v)}\nproperty float x\nproperty float y\n"
              f"property float z\nelement face {len(f)}\n"
              "property list uchar int vertex_indices\nend_header\n")
    faces = np.empty(len(f), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    faces["n"] = 3
    faces["i"] = f
    with open(Path(path), "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(np.ascontiguousarray(v, "<f4").tobytes())
        fh.write(faces.tobytes())


def _parse_header(fh) -> tuple[str, list[tuple[str, int, list[tuple]]]]:  # noqa: ANN001
    if fh.readline().strip() != b"ply":
        raise ValueError("not a PLY file (no 'ply' magic line)")
    fmt = None
    elements: list[tuple[str, int, list[tuple]]] = []
    while True:
        line = fh.readline()
        if not line:
            raise ValueError("PLY header has no end_header")
        words = line.decode("ascii", "replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            break
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            if words[1] == "list":
                elements[-1][2].append(("list", words[4], _TYPES[words[2]],
                                        _TYPES[words[3]]))
            else:
                elements[-1][2].append(("scalar", words[2], _TYPES[words[1]]))
        else:
            raise ValueError(f"unexpected PLY header line {line!r}")
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ValueError(f"unsupported PLY format {fmt!r}")
    return fmt, elements


def _triangulate(polys: list[np.ndarray]) -> np.ndarray:
    tris = [np.stack([np.full(len(p) - 2, p[0]), p[1:-1], p[2:]], axis=1)
            for p in polys if len(p) >= 3]
    return np.concatenate(tris).astype(np.int32) if tris else np.zeros((0, 3), np.int32)


def read_ply(path: Path) -> TriangleMesh:
    """Read a PLY mesh (vertices x, y, z and faces); ValueError if the file is not one."""
    with open(Path(path), "rb") as fh:
        try:
            fmt, elements = _parse_header(fh)
        except (KeyError, IndexError) as exc:
            raise ValueError(f"{path}: bad PLY header ({exc})") from None
        body = fh.read()
    order = ">" if fmt == "binary_big_endian" else "<"
    vertices = np.zeros((0, 3), np.float32)
    triangles = np.zeros((0, 3), np.int32)
    pos = 0
    text = body.decode("ascii", "replace").split() if fmt == "ascii" else None
    for name, count, props in elements:
        scalars = all(p[0] == "scalar" for p in props)
        if text is not None:
            rows = []
            for _ in range(count):
                row = []
                for p in props:
                    if p[0] == "scalar":
                        row.append(float(text[pos]))
                        pos += 1
                    else:
                        k = int(text[pos])
                        row.append(np.asarray(text[pos + 1:pos + 1 + k], float))
                        pos += 1 + k
                rows.append(row)
            if name == "vertex":
                names = [p[1] for p in props]
                vertices = np.asarray([[r[names.index(a)] for a in "xyz"] for r in rows],
                                      np.float32).reshape(-1, 3)
            elif name == "face":
                li = next(i for i, p in enumerate(props) if p[0] == "list")
                triangles = _triangulate([r[li].astype(np.int64) for r in rows])
            continue
        if scalars:
            dt = np.dtype([(p[1], order + p[2]) for p in props])
            need = dt.itemsize * count
            if pos + need > len(body):
                raise ValueError(f"{path}: PLY body ends inside element {name!r}")
            arr = np.frombuffer(body, dt, count, pos)
            pos += need
            if name == "vertex":
                try:
                    vertices = np.stack([arr[a] for a in "xyz"], axis=1).astype(np.float32)
                except ValueError:
                    raise ValueError(f"{path}: PLY vertices lack x, y or z") from None
            continue
        if len(props) == 1 and props[0][0] == "list":
            _, _, count_t, index_t = props[0]
            fixed = np.dtype([("n", order + count_t), ("i", order + index_t, (3,))])
            if pos + fixed.itemsize * count <= len(body):
                arr = np.frombuffer(body, fixed, count, pos)
                if np.all(arr["n"] == 3):  # all triangles: one vectorised read
                    if name == "face":
                        triangles = arr["i"].astype(np.int32)
                    pos += fixed.itemsize * count
                    continue
        polys = []  # general case: one record at a time
        for _ in range(count):
            for p in props:
                if p[0] == "scalar":
                    pos += np.dtype(p[2]).itemsize
                    continue
                cdt, idt = np.dtype(order + p[2]), np.dtype(order + p[3])
                if pos + cdt.itemsize > len(body):
                    raise ValueError(f"{path}: PLY body ends inside element {name!r}")
                k = int(np.frombuffer(body, cdt, 1, pos)[0])
                pos += cdt.itemsize
                if pos + k * idt.itemsize > len(body):
                    raise ValueError(f"{path}: PLY body ends inside element {name!r}")
                polys.append(np.frombuffer(body, idt, k, pos).astype(np.int64))
                pos += k * idt.itemsize
        if name == "face":
            triangles = _triangulate(polys)
    if len(triangles) and (triangles.min() < 0 or triangles.max() >= len(vertices)):
        raise ValueError(f"{path}: PLY faces index vertices that do not exist")
    return TriangleMesh(vertices, triangles)


__all__ = ["read_ply", "write_ply"]

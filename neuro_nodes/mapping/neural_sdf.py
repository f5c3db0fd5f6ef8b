"""Online neural SDF from depth scans: multiresolution grid features + a tiny MLP decoder,
trained continually on a keyframe replay window (iSDF-style losses), CPU first.

Field (map frame, metres):

    f(x) = [f_0(x), ..., f_{L-1}(x)]                (grid features, ``hash_grid.py``)
    sdf(x) = w_o . softplus_beta(W_h f(x) + b_h) + b_o   (``hidden_layers`` hidden layers)
    grad sdf(x) = (d sdf / d f) (d f / d x)          (closed form, no autograd)

Per :meth:`NeuralSDFMapper.integrate`: draw samples along ``n_rays`` rays of the scan
(``ray_sampling.py``), drop replayed samples the scan contradicts (``replay.py``), mark the
rays' voxels known (``known_space.py``), then ``steps`` Adam steps on the new samples plus
``replay_samples`` drawn from the window, with the loss

    L = mean_near |sdf - s|
        + w_free mean_free [relu(sdf - b) + relu(-sdf) + w_pull relu(b - sdf)]
        + w_eik mean_all (|grad sdf| - 1)^2

(``s``: near-surface target, ``b``: free-space upper bound; free space has ``sdf > 0``). The
pull ``w_pull < 1`` towards the bound lets the field grow into free space (and into the place
a moved object left) faster than the Eikonal term alone does in a few steps; since every
scan's bound is an upper bound and exceeding one costs ``(1 + w_pull) / w_pull`` times more
per metre than staying below it, the field settles near the smaller bounds the scans give
(the true distance where the nearest surface was seen). ``w_pull`` is ``free_pull_weight``
(0.5) for a ray's free samples and ``clear_pull_weight`` (1.0) for the seen-free places the
map still held as solid and the free samples near them (below). Chosen on the tuning
sequences (room-s100 and its moving variant): one pull for all free samples of 0.2 cleared a
moved chair in 10+ updates, 0.5 in 6, 0.8 in 3 but overestimated free-space distance (free
L1 3.1 -> 4.4 cm; too large is the unsafe direction for a planner); 0.5 / 1.0 clears in 4.
The new scan's samples are all in every step, so the newest measurement dominates where the
scene changed. Dynamic objects: replayed samples the new scan contradicts are dropped
(``replay.py``: old surface samples the new rays see through, old free-space samples on a
new surface), so a moved object's old surface has no support left; the places of the
dropped surface samples join the new scan's samples as free space (bound: distance to the
new scan's nearest return), which pushes the field there positive within a few updates.
Likewise points the new scan sees as free (on a ray, ``carve_margin_m`` before its return)
where the current field is negative (checked on ``conflict_rays`` rays x 8 points per scan)
join the new samples as free space. These places get the strong pull ``clear_pull_weight``,
and so do the scan's own free samples within ``change_radius_m`` of one.

``observed`` of a query: the point lies in a voxel of ``known_voxel_m`` that some ray passed
through or ended in (``known_space.py``). Outside observed space the field is the decoder's
extrapolation (positive at start: the output bias is ``prior_distance_m``).

Memory (``memory_bytes``): float32 grid features + decoder weights (the replay window, the
known-space grid and Adam's moments are not the map and are not counted).

Save/load: one ``.npz`` (``method`` = "neural", the params as JSON, the bounds, grid table,
decoder weights, Adam's moments and step, the known-space grid, counters); a loaded map
answers queries bit-identically. Not saved: the replay window and the sampling RNG state,
so integrating more scans after a load continues the map but not bit-identically to an
uninterrupted run.

Timing on the CPU: the grid lookup runs in numba kernels (``hash_grid.py``); torch runs the
decoder and Adam with ``torch_threads`` (1) threads. ``query`` (CPU, one hidden layer) skips
torch: one numba pass gives features, their Jacobian and ``observed``, then the decoder and
its input gradient in float32 numpy/numba (``sdf_query_kernel.py``; the same values as the
torch path up to float32 rounding, tested). ``mesh()`` evaluates the field on a
``mesh_voxel_m`` grid over the known box (about 1.5 s for the room at 5 cm), not per scan.

===================== ========= ==========================================================
parameter             default   meaning
===================== ========= ==========================================================
n_levels              6         grid levels L
features_per_level    2         features per vertex F
log2_table_size       17        hashed levels hold 2^this vertices (coarse levels: dense)
base_resolution       16        cells of the coarsest level along the largest box extent
finest_resolution     256       cells of the finest level along it
hidden_width          32        decoder hidden width
hidden_layers         1         decoder hidden layers
softplus_beta         10.0      sharpness of the decoder's softplus
prior_distance_m      0.5       output bias at start (distance where nothing was seen)
n_rays                200       rays sampled per scan
near_samples          4         near-surface samples per ray (plus the return itself)
free_samples          4         free-space samples per ray
truncation_m          0.15      near-surface band in front of a return (m)
behind_m              0.1       near-surface band behind a return (m)
min_range_m           0.05      free-space samples start this far from the sensor (m)
steps                 6         Adam steps per scan
learning_rate         0.01      Adam step size (grid and decoder)
replay_samples        1800      replayed samples per step
free_weight           1.0       weight of the free-space hinge
free_pull_weight      0.5       weight of the pull of a ray's free samples to their bound
clear_pull_weight     1.0       the same for seen-free places the map held as solid
change_radius_m       0.3       free samples this close to such a place get that pull too
eikonal_weight        0.1       weight of the Eikonal term
recent_window         4         scans always replayed
max_keyframes         12        older keyframes replayed
keyframe_novelty      0.1       novelty (fraction of returns off by > novelty_m) to keep
novelty_m             0.05      field error at a return that counts as novel (m)
carve_margin_m        0.1       margin of the carving test (m)
carve_bin_rad         0.01      angular bin of the carving range image (rad)
freed_samples         1000      at most this many carved places become free-space samples
conflict_rays         500       rays (8 points each) checked for free space the field calls solid
known_voxel_m         0.1       voxel of the known-space grid (m)
known_rays            3000      rays per scan traced into the known-space grid
mesh_voxel_m          0.05      marching-cubes grid spacing (m)
device                auto      auto (CUDA when torch sees it) / cpu / cuda
torch_threads         1         set torch's intra-op threads (0: leave as is)
seed                  0         initialisation and sampling seed
===================== ========= ==========================================================
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from neuro_nodes.core.params import param, validated
from neuro_nodes.mapping.hash_grid import MultiResGrid
from neuro_nodes.mapping.known_space import KnownSpace
from neuro_nodes.mapping.marching import empty_mesh, marching_cubes
from neuro_nodes.mapping.ray_sampling import RaySamples, nearest_return_bound, sample_scan
from neuro_nodes.mapping.replay import ReplayWindow
from neuro_nodes.mapping.sdf_query_kernel import decode, grid_features_and_observed
from neuro_nodes.mapping.types import DistanceQuery, MapBounds, Scan, TriangleMesh, UpdateStats

METHOD = "neural"
_QUERY_CHUNK = 65536


@dataclass(frozen=True)
class NeuralSDFParams:
    """Neural SDF mapper (table in the module docstring)."""

    n_levels: int = param(6, "Grid levels", min=1, max=16)
    features_per_level: int = param(2, "Features per grid vertex", min=1, max=8)
    log2_table_size: int = param(17, "log2 of the vertices of a hashed level", min=8, max=24)
    base_resolution: int = param(16, "Cells of the coarsest level along the largest extent",
                                 min=2, max=4096)
    finest_resolution: int = param(256, "Cells of the finest level along the largest extent",
                                   min=2, max=16384)
    hidden_width: int = param(32, "Decoder hidden width", min=1, max=512)
    hidden_layers: int = param(1, "Decoder hidden layers", min=0, max=4)
    softplus_beta: float = param(10.0, "Sharpness of the decoder softplus", min=0.1, max=1e3)
    prior_distance_m: float = param(0.5, "Decoder output bias at start (m)", min=-10.0,
                                    max=10.0)
    n_rays: int = param(200, "Rays sampled per scan", min=1, max=100000)
    near_samples: int = param(4, "Near-surface samples per ray", min=0, max=64)
    free_samples: int = param(4, "Free-space samples per ray", min=0, max=64)
    truncation_m: float = param(0.15, "Near-surface band in front of a return (m)",
                                min=0.005, max=2.0)
    behind_m: float = param(0.1, "Near-surface band behind a return (m)", min=0.0, max=1.0)
    min_range_m: float = param(0.05, "Free-space samples start this far from the sensor (m)",
                               min=0.0, max=10.0)
    steps: int = param(6, "Adam steps per scan", min=0, max=1000)
    learning_rate: float = param(0.01, "Adam step size", min=1e-6, max=1.0)
    replay_samples: int = param(1800, "Replayed samples per step", min=0, max=10**6)
    free_weight: float = param(1.0, "Weight of the free-space hinge", min=0.0, max=100.0)
    free_pull_weight: float = param(0.5, "Pull of a ray's free samples to their bound",
                                    min=0.0, max=1.0)
    clear_pull_weight: float = param(1.0, "Pull of seen-free places the map held as solid",
                                     min=0.0, max=1.0)
    eikonal_weight: float = param(0.1, "Weight of the Eikonal term", min=0.0, max=100.0)
    recent_window: int = param(4, "Scans always replayed", min=1, max=1000)
    max_keyframes: int = param(12, "Older keyframes replayed", min=0, max=1000)
    keyframe_novelty: float = param(0.1, "Novelty needed to keep a keyframe", min=0.0, max=1.0)
    novelty_m: float = param(0.05, "Field error at a return that counts as novel (m)",
                             min=0.0, max=1.0)
    carve_margin_m: float = param(0.1, "Margin of the carving test (m)", min=0.0, max=2.0)
    carve_bin_rad: float = param(0.01, "Angular bin of the carving range image (rad)",
                                 min=1e-4, max=0.5)
    change_radius_m: float = param(0.3, "Free samples this close to a seen-free-but-solid "
                                   "place get its pull", min=0.0, max=5.0)
    freed_samples: int = param(1000, "Carved places that become free-space samples (max)",
                               min=0, max=10**6)
    conflict_rays: int = param(500, "Rays checked for seen-free space the field calls solid",
                               min=0, max=10**6)
    known_voxel_m: float = param(0.1, "Voxel of the known-space grid (m)", min=0.01, max=2.0)
    known_rays: int = param(3000, "Rays per scan traced into the known-space grid", min=1,
                            max=10**7)
    mesh_voxel_m: float = param(0.05, "Marching-cubes grid spacing (m)", min=0.005, max=1.0)
    device: str = param("auto", "Torch device", choices=("auto", "cpu", "cuda"))
    # the mapper's tensors are small: on this 2-core machine a second OpenMP thread costs
    # more in hand-offs than it gains (5x slower integrate under load, measured)
    torch_threads: int = param(1, "Torch intra-op threads, process-wide (0: leave as is)",
                               min=0, max=256)
    seed: int = param(0, "Initialisation and sampling seed", min=0, max=2**31 - 1)

    def validate(self) -> None:
        if self.finest_resolution < self.base_resolution:
            raise ValueError("finest_resolution must be >= base_resolution")


class Decoder(torch.nn.Module):
    """MLP with softplus hidden layers; returns sdf and d sdf / d features in closed form."""

    def __init__(self, n_in: int, width: int, layers: int, beta: float, bias: float,
                 generator: torch.Generator) -> None:
        super().__init__()
        dims = [n_in] + [width] * layers + [1]
        self.linears = torch.nn.ModuleList()
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            lin = torch.nn.Linear(a, b)
            bound = 1.0 / np.sqrt(a)
            with torch.no_grad():
                lin.weight.copy_((torch.rand(b, a, generator=generator) * 2 - 1) * bound)
                lin.bias.copy_((torch.rand(b, generator=generator) * 2 - 1) * bound)
            self.linears.append(lin)
        with torch.no_grad():
            self.linears[-1].bias.fill_(bias)
        self.beta = float(beta)

    def forward(self, f: torch.Tensor, jac: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h, slopes = f, []
        for lin in self.linears[:-1]:
            z = lin(h)
            h = torch.nn.functional.softplus(z, beta=self.beta)
            slopes.append(torch.sigmoid(self.beta * z))
        out = self.linears[-1](h)[:, 0]
        if jac is None:
            return out, None
        # back-propagate the output row vector through the layers: d out / d f (N, n_in)
        g = self.linears[-1].weight.expand(len(f), -1)
        for lin, s in zip(reversed(self.linears[:-1]), reversed(slopes), strict=True):
            g = (g * s) @ lin.weight
        return out, torch.einsum("nk,nka->na", g, jac)


def _resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for but torch sees no CUDA device")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


class NeuralSDFMapper:
    """Mapper protocol implementation (see the module docstring)."""

    name = METHOD

    def __init__(self, bounds: MapBounds, params: NeuralSDFParams | None = None) -> None:
        self.bounds = bounds
        self.params = validated(params or NeuralSDFParams())
        self.device = _resolve_device(self.params.device)
        if self.params.torch_threads > 0:
            torch.set_num_threads(self.params.torch_threads)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        p = self.params
        gen = torch.Generator().manual_seed(p.seed)
        lo = np.asarray(self.bounds.min_xyz, float)
        hi = np.asarray(self.bounds.max_xyz, float)
        self.grid = MultiResGrid(lo, hi, n_levels=p.n_levels, features=p.features_per_level,
                                 log2_table_size=p.log2_table_size,
                                 base_resolution=p.base_resolution,
                                 finest_resolution=p.finest_resolution, generator=gen)
        self.decoder = Decoder(self.grid.out_features, p.hidden_width, p.hidden_layers,
                               p.softplus_beta, p.prior_distance_m, gen)
        self.grid.to(self.device)
        self.decoder.to(self.device)
        # fused: one kernel over the whole table (the per-op Adam spent ~4 ms a step on it)
        self.optimizer = torch.optim.Adam(self._parameters(), lr=p.learning_rate, fused=True)
        self.rng = np.random.default_rng(p.seed)
        self.window = ReplayWindow(p.recent_window, p.max_keyframes, p.keyframe_novelty)
        self.known = KnownSpace(self.bounds, p.known_voxel_m)
        self.n_integrated = 0
        self.n_skipped = 0

    def _parameters(self) -> list[torch.nn.Parameter]:
        return [self.grid.table, *self.decoder.parameters()]

    def _named_parameters(self) -> dict[str, torch.nn.Parameter]:
        out = {"grid.table": self.grid.table}
        out.update({f"decoder.{k}": v for k, v in self.decoder.named_parameters()})
        return out

    # ------------------------------------------------------------------ field
    def _field(self, x: torch.Tensor, with_gradient: bool = True
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats, jac = self.grid(x, with_gradient=with_gradient)
        return self.decoder(feats, jac)

    def query(self, points: np.ndarray) -> DistanceQuery:
        pts = np.asarray(points)
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f"query points must be (N, 3), got {pts.shape}")
        pts = pts.astype(np.float32)
        finite = np.all(np.isfinite(pts), axis=1)
        if not finite.all():
            raise ValueError(f"{int((~finite).sum())} query points are not finite")
        if self._fused_query_ok():
            return self._query_fused(pts)
        return self._query_torch(pts)

    def _fused_query_ok(self) -> bool:
        """The one-pass numba query covers the CPU field with one hidden layer."""
        return self.device.type == "cpu" and self.params.hidden_layers == 1

    def _query_fused(self, pts: np.ndarray) -> DistanceQuery:
        """Distance, gradient and observed in one numba pass (``sdf_query_kernel.py``); the
        arrays are views of the live parameters, so they are current after every update."""
        hidden, out = self.decoder.linears[0], self.decoder.linears[1]
        feats, jac, observed = grid_features_and_observed(
            np.ascontiguousarray(pts), *self.grid._consts(), self.grid.table.detach().numpy(),
            self.known.grid, self.known.lo, self.known.voxel)
        dist, grad = decode(feats, jac, hidden.weight.detach().numpy(),
                            hidden.bias.detach().numpy(), out.weight.detach().numpy()[0],
                            float(out.bias.detach()[0]), self.decoder.beta)
        return DistanceQuery(dist, grad, observed)

    def _query_torch(self, pts: np.ndarray) -> DistanceQuery:
        """The same query through the grid module and the torch decoder (any device and
        depth; the reference the fused query is tested against)."""
        dist = np.empty(len(pts), np.float32)
        grad = np.empty((len(pts), 3), np.float32)
        with torch.no_grad():
            for a in range(0, len(pts), _QUERY_CHUNK):
                x = torch.from_numpy(pts[a:a + _QUERY_CHUNK]).to(self.device)
                d, g = self._field(x)
                dist[a:a + len(x)] = d.cpu().numpy()
                grad[a:a + len(x)] = g.cpu().numpy()
        observed = self.known.contains(pts)
        return DistanceQuery(dist, grad, observed)

    # ------------------------------------------------------------------ integration
    def _check_scan(self, scan: Scan) -> np.ndarray | None:
        """The scan's finite points (sensor frame), or None for a scan with none."""
        T = np.asarray(scan.T_map_sensor)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            raise ValueError(f"scan pose must be a finite 4x4 matrix, got shape {T.shape}")
        if not np.allclose(T[3], [0, 0, 0, 1]) or not np.allclose(
                T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-4):
            raise ValueError("scan pose is not a rigid transform")
        pts = np.asarray(scan.points)
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise ValueError(f"scan points must be (N, 3), got {pts.shape}")
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        return pts if len(pts) else None

    def integrate(self, scan: Scan) -> UpdateStats:
        t0 = time.perf_counter()
        p = self.params
        pts = self._check_scan(scan)
        if pts is None:
            self.n_skipped += 1
            return UpdateStats(time.perf_counter() - t0, 0, {"skipped": 1.0})
        T = np.asarray(scan.T_map_sensor, np.float64)
        new = sample_scan(pts, T, self.rng, n_rays=p.n_rays, n_near=p.near_samples,
                          n_free=p.free_samples, truncation_m=p.truncation_m,
                          behind_m=p.behind_m, min_range_m=p.min_range_m,
                          pull=p.free_pull_weight)
        freed = self.window.carve(pts, T, margin_m=p.carve_margin_m, bin_rad=p.carve_bin_rad)
        if len(freed) > p.freed_samples:
            freed = freed[self.rng.choice(len(freed), p.freed_samples, replace=False)]
        conflict = self._conflicts(pts, T)
        seen_free = np.concatenate([freed, conflict])
        if len(seen_free):  # where the map holds a surface the new scan sees through
            bound = nearest_return_bound(pts, T, seen_free, self.rng).astype(np.float32)
            # the ray's own free samples around those places get the strong pull too
            near_change = cKDTree(seen_free).query(
                new.points, k=1, distance_upper_bound=p.change_radius_m)[0] < p.change_radius_m
            new.pull[new.free & near_change] = p.clear_pull_weight
            m = len(seen_free)
            new = RaySamples.concatenate([new, RaySamples(
                seen_free, bound, np.ones(m, bool), np.full(m, p.clear_pull_weight, np.float32))])
        new = new.subset(self.bounds.contains(new.points))
        traced = pts[self.rng.choice(len(pts), min(p.known_rays, len(pts)), replace=False)]
        self.known.mark_rays(T[:3, 3], traced @ T[:3, :3].T + T[:3, 3], p.behind_m, stride=1)
        novelty = self._novelty(new)
        t_sample = time.perf_counter() - t0
        loss = self._train(new, self.window.samples())
        self.window.add(new, novelty, scan.stamp_s)
        self.n_integrated += 1
        return UpdateStats(time.perf_counter() - t0, int(len(pts)), {
            "loss": loss, "samples": float(len(new)), "freed": float(len(freed)),
            "conflicts": float(len(conflict)),
            "novelty": novelty, "keyframes": float(len(self.window.keyframes)),
            "sample_s": t_sample})

    def _conflicts(self, pts: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Map points the scan sees as free (on a ray, ``carve_margin_m`` or more before its
        return) where the field is negative: the map still holds something there."""
        p = self.params
        if p.conflict_rays == 0:
            return np.zeros((0, 3), np.float32)
        r = np.linalg.norm(pts, axis=1)
        ok = np.flatnonzero(r > p.min_range_m + 2 * p.carve_margin_m)
        if len(ok) == 0:
            return np.zeros((0, 3), np.float32)
        rays = self.rng.choice(ok, min(p.conflict_rays, len(ok)), replace=False)
        n = 8
        frac = (np.arange(n) + self.rng.uniform(0, 1, (len(rays), n))) / n
        t = p.min_range_m + frac * (r[rays] - p.carve_margin_m - p.min_range_m)[:, None]
        x = (pts[rays] / r[rays, None])[:, None, :] * t[..., None]
        xm = (x.reshape(-1, 3) @ T[:3, :3].T + T[:3, 3]).astype(np.float32)
        xm = xm[self.bounds.contains(xm)]
        with torch.no_grad():
            d, _ = self._field(torch.from_numpy(xm).to(self.device), with_gradient=False)
        return xm[d.cpu().numpy() < 0]

    def _novelty(self, new: RaySamples) -> float:
        surface = new.points[~new.free & (new.target == 0)]
        if len(surface) == 0:
            return 0.0
        with torch.no_grad():
            d, _ = self._field(torch.from_numpy(surface).to(self.device), with_gradient=False)
        return float(np.mean(np.abs(d.cpu().numpy()) > self.params.novelty_m))

    def _tensors(self, s: RaySamples) -> tuple[torch.Tensor, ...]:
        dev = self.device
        return (torch.from_numpy(s.points).to(dev), torch.from_numpy(s.target).to(dev),
                torch.from_numpy(s.free).to(dev), torch.from_numpy(s.pull).to(dev))

    def _train(self, new: RaySamples, replay: RaySamples) -> float:
        p = self.params
        if len(new) == 0 or p.steps == 0:
            return 0.0
        loss_value = 0.0
        for _ in range(p.steps):
            if len(replay) and p.replay_samples:
                pick = self.rng.integers(0, len(replay), min(p.replay_samples, len(replay)))
                batch = RaySamples.concatenate([new, replay.subset(pick)])
            else:
                batch = new
            x, target, free, pull = self._tensors(batch)
            sdf, grad = self._field(x)
            near = ~free
            zero = sdf.new_zeros(())
            l_near = (sdf[near] - target[near]).abs().mean() if near.any() else zero
            if free.any():
                sf, bf = sdf[free], target[free]
                l_free = (torch.relu(sf - bf) + torch.relu(-sf)
                          + pull[free] * torch.relu(bf - sf)).mean()
            else:
                l_free = zero
            l_eik = ((grad.norm(dim=1) - 1.0) ** 2).mean()
            loss = l_near + p.free_weight * l_free + p.eikonal_weight * l_eik
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            loss_value = float(loss.detach())
        return loss_value

    # ------------------------------------------------------------------ outputs
    def mesh(self) -> TriangleMesh:
        """Marching cubes of the field on a ``mesh_voxel_m`` grid over the box of known
        voxels; triangles outside known space are dropped."""
        if not self.known.grid.any():
            return empty_mesh()
        h = self.params.mesh_voxel_m
        ijk = np.argwhere(self.known.grid)
        lo = self.known.lo + ijk.min(0) * self.known.voxel
        hi = self.known.lo + (ijk.max(0) + 1) * self.known.voxel
        n = np.floor((hi - lo) / h).astype(int) + 1
        if np.any(n < 2):
            return empty_mesh()
        axes = [lo[a] + h * np.arange(n[a]) for a in range(3)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        values = np.empty(len(grid), np.float32)
        with torch.no_grad():
            for a in range(0, len(grid), _QUERY_CHUNK):
                x = torch.from_numpy(grid[a:a + _QUERY_CHUNK].astype(np.float32))
                d, _ = self._field(x.to(self.device), with_gradient=False)
                values[a:a + len(x)] = d.cpu().numpy()
        return marching_cubes(values.reshape(n), lo, h, keep=self.known.contains)

    def memory_bytes(self) -> int:
        return int(sum(t.numel() * t.element_size() for t in self._parameters()))

    # ------------------------------------------------------------------ save / load
    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "method": np.array(METHOD),
            "params": np.array(json.dumps(dataclasses.asdict(self.params))),
            "bounds": np.array([self.bounds.min_xyz, self.bounds.max_xyz], np.float64),
            "known": self.known.grid,
            "counts": np.array([self.n_integrated, self.n_skipped], np.int64),
        }
        for name, t in self._named_parameters().items():
            arrays[f"param/{name}"] = t.detach().cpu().numpy()
            state = self.optimizer.state.get(t, {})
            for key in ("exp_avg", "exp_avg_sq", "step"):
                if key in state:
                    arrays[f"adam/{name}/{key}"] = torch.as_tensor(state[key]).cpu().numpy()
        with open(Path(path), "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: Path) -> NeuralSDFMapper:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise ValueError(f"{path}: not a readable map file ({exc})") from None
        try:
            if str(data["method"]) != METHOD:
                raise ValueError(f"{path}: map written by {str(data['method'])!r}, not "
                                 f"{METHOD!r}")
            params = NeuralSDFParams(**json.loads(str(data["params"])))
            b = data["bounds"]
            bounds = MapBounds(tuple(map(float, b[0])), tuple(map(float, b[1])))
            mapper = cls(bounds, params)
            known = data["known"]
            if known.shape != mapper.known.grid.shape or known.dtype != bool:
                raise ValueError("known-space grid has the wrong shape")
            mapper.known.grid[:] = known
            mapper.n_integrated, mapper.n_skipped = (int(v) for v in data["counts"])
            for name, t in mapper._named_parameters().items():
                arr = data[f"param/{name}"]
                if arr.shape != tuple(t.shape):
                    raise ValueError(f"{name} has shape {arr.shape}, expected {tuple(t.shape)}")
                with torch.no_grad():
                    t.copy_(torch.from_numpy(arr))
                if f"adam/{name}/exp_avg" in data:
                    mapper.optimizer.state[t] = {
                        "step": torch.tensor(float(data[f"adam/{name}/step"])),
                        "exp_avg": torch.from_numpy(data[f"adam/{name}/exp_avg"]).to(t.device),
                        "exp_avg_sq": torch.from_numpy(
                            data[f"adam/{name}/exp_avg_sq"]).to(t.device)}
        except ValueError as exc:
            raise ValueError(f"{path}: malformed neural map: {exc}") from None
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: malformed neural map ({exc!r})") from None
        return mapper


__all__ = ["Decoder", "NeuralSDFMapper", "NeuralSDFParams"]

"""A directory of NIR models served by name: :class:`ModelRegistry`.

Every ``*.nir`` file of ``model_dir`` is loaded as an :class:`~.runtime.AccelModel` named by
its file stem.  A file that cannot be loaded (malformed, unknown primitive, shapes that do
not fit) does not stop the others: its error is recorded (``errors()``, ``status()``) and
``get`` of that name raises :class:`AccelError` with it.

``reload()`` rescans the directory and compares each file's modification time and size with
what it last saw: new files are loaded, changed ones reloaded, removed ones dropped.  When a
changed file fails to load, the previous good model of that name keeps being served (marked
``stale`` in ``status()``) and the error is recorded, so a half-written or broken update
never takes a working model away from a running robot.

Thread safety: ``get``, ``names``, ``errors``, ``status`` may be called from any thread
while another reloads; models are built outside the lock and swapped in atomically, and
reloads run one at a time.  A model keeps streaming state: callers that step the same model
from several threads must serialise those calls themselves.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

from .errors import AccelError, BackendUnavailable
from .runtime import AccelModel, Backend


@dataclasses.dataclass
class ReloadReport:
    """What a :meth:`ModelRegistry.reload` did, by model name."""

    added: list[str] = dataclasses.field(default_factory=list)
    changed: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class ModelRegistry:
    """Loads every ``*.nir`` in ``model_dir`` (see the module docstring).

    ``dt``, ``backend`` and ``model_kwargs`` are passed to every :class:`AccelModel`
    (``dt=None``: each graph's ``metadata["dt"]``)."""

    def __init__(self, model_dir: str | Path, dt: float | None = None,
                 backend: Backend = "event", *, load: bool = True, **model_kwargs: Any) -> None:
        self.model_dir = Path(model_dir)
        self.dt = dt
        self.backend = backend
        self.model_kwargs = model_kwargs
        self._lock = threading.RLock()
        self._reload_lock = threading.Lock()
        self._models: dict[str, AccelModel] = {}
        self._errors: dict[str, str] = {}
        self._seen: dict[str, tuple[int, int]] = {}
        self._paths: dict[str, Path] = {}
        if load:
            self.reload()

    def _scan(self) -> dict[str, tuple[Path, tuple[int, int]]]:
        found: dict[str, tuple[Path, tuple[int, int]]] = {}
        if not self.model_dir.is_dir():
            return found
        for path in sorted(self.model_dir.glob("*.nir")):
            try:
                st = path.stat()
            except OSError:  # removed between glob and stat
                continue
            if path.is_file():
                found[path.stem] = (path, (st.st_mtime_ns, st.st_size))
        return found

    def _load(self, name: str, path: Path) -> AccelModel:
        return AccelModel(path, self.dt, self.backend, name=name, **self.model_kwargs)

    def reload(self) -> ReloadReport:
        """Rescan the directory; load added and changed files, drop removed ones."""
        with self._reload_lock:
            found = self._scan()
            with self._lock:
                seen = dict(self._seen)
            report = ReloadReport(
                added=[n for n in found if n not in seen],
                changed=[n for n in found if n in seen and seen[n] != found[n][1]],
                removed=[n for n in seen if n not in found],
            )
            loaded: dict[str, AccelModel] = {}
            for name in report.added + report.changed:
                try:
                    loaded[name] = self._load(name, found[name][0])
                except (AccelError, BackendUnavailable, OSError, ValueError, TypeError,
                        KeyError, RuntimeError) as e:
                    report.failed[name] = f"{type(e).__name__}: {e}"
            with self._lock:
                for name in report.removed:
                    for d in (self._models, self._errors, self._seen, self._paths):
                        d.pop(name, None)
                for name in report.added + report.changed:
                    self._seen[name] = found[name][1]
                    self._paths[name] = found[name][0]
                    if name in loaded:
                        self._models[name] = loaded[name]
                        self._errors.pop(name, None)
                    else:
                        self._errors[name] = report.failed[name]
            return report

    def get(self, name: str) -> AccelModel:
        """The model named ``name`` (file stem).  KeyError for an unknown name, AccelError
        for a file that failed to load (with its error)."""
        with self._lock:
            model = self._models.get(name)
            if model is not None:
                return model
            if name in self._errors:
                raise AccelError(f"model '{name}' ({self._paths[name]}) failed to load: "
                                 f"{self._errors[name]}")
            known = sorted(set(self._models) | set(self._errors))
        raise KeyError(f"no model '{name}' in {self.model_dir} (known: {known})")

    def names(self) -> list[str]:
        """Names of the models that can be served."""
        with self._lock:
            return sorted(self._models)

    def errors(self) -> dict[str, str]:
        """The load error of every file whose latest version failed."""
        with self._lock:
            return dict(self._errors)

    def status(self) -> dict[str, dict[str, Any]]:
        """Per file: path, whether a model is served, the error, and ``stale`` (an older
        version is served because the latest failed)."""
        with self._lock:
            return {
                name: {
                    "path": str(self._paths[name]),
                    "loaded": name in self._models,
                    "error": self._errors.get(name),
                    "stale": name in self._models and name in self._errors,
                }
                for name in sorted(self._paths)
            }

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._models

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

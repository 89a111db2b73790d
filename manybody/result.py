"""``Result``: what every backend returns, saved and reloaded without pickle.

A saved result is a folder::

    result.json    energies, observables, options, model dict, provenance
    history.npz    per-iteration traces (numpy arrays)
    state/         the backend's state (MPS tensors, network parameters, ...)

Folders are written to a temporary sibling and renamed into place, so an
interrupted save never leaves a half-written result.
"""

from __future__ import annotations

import dataclasses
import datetime
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manybody.io import atomic_folder, dump_json, load_json, to_jsonable
from manybody.observables import Estimate, Estimates, evaluate, resolve_observables
from manybody.provenance import git_commit, git_dirty, package_versions

__all__ = ["Result", "ResultLoadError", "relative_error", "v_score"]

FORMAT_VERSION = 1
_REQUIRED = ("model", "backend", "options", "energy")


def v_score(energy: float, variance: float | None, n_sites: int, e_inf: float) -> float | None:
    """``N Var(E) / (E - E_inf)^2`` (Wu et al., Science 386, 296 (2024)); None without a variance
    or at ``E = E_inf``."""
    if variance is None or energy == e_inf:
        return None
    return n_sites * variance / (energy - e_inf) ** 2


def relative_error(energy: float, reference: float | None) -> float | None:
    """``|E - E_ref| / |E_ref|``; None without a reference."""
    if reference is None:
        return None
    return abs(energy - reference) / abs(reference)


class ResultLoadError(ValueError):
    """A saved result folder whose files do not load; the message names the folder."""


@dataclass
class Result:
    """A ground-state result with its observables and provenance.

    Attributes
    ----------
    model : dict
        ``model.to_dict()``; ``Result.model_object`` rebuilds the model.
    backend : str
        Backend name.
    options : dict
        The backend options used (defaults filled in).
    energy, energy_error : float
        Ground-state energy and one standard error (0 where exact).
    variance : float or None
        ``<H^2> - <H>^2`` on the state.
    n_sites : int
        Sites used for per-site quantities.
    e_inf : float
        ``Tr H / 2^n``, the V-score's reference energy.
    reference_energy : float or None
        A literature or exact value for this model, if known.
    observables : dict of str -> Estimate
    history : dict of str -> ndarray
    info : dict
        Backend facts (bond dimension, circuit depth, ...).
    wall_time : float
        Seconds for solve plus observables; ``info["solve_time"]`` is the solve.
    device, seed, versions, git_commit, created : provenance.
    git_dirty : bool or None
        True if the source tree had uncommitted changes to tracked files (then
        ``git_commit`` alone does not reproduce the run); None outside a checkout.
    """

    model: dict
    backend: str
    options: dict
    energy: float
    energy_error: float = 0.0
    variance: float | None = None
    n_sites: int = 1
    e_inf: float = 0.0
    reference_energy: float | None = None
    observables: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    wall_time: float = 0.0
    device: str = "cpu"
    seed: int | None = None
    versions: dict = field(default_factory=dict)
    git_commit: str | None = None
    git_dirty: bool | None = None
    created: str = ""
    _state: Any = field(default=None, repr=False, compare=False)
    _state_folder: Path | None = field(default=None, repr=False, compare=False)
    _model_object: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self.observables = Estimates(self.observables)

    @classmethod
    def from_solution(cls, model, backend, options, solution, observables, wall_time, solve_time):
        return cls(
            model=model.to_dict(),
            backend=backend,
            options=to_jsonable(options, lossy=True),
            energy=float(solution.energy),
            energy_error=float(solution.energy_error),
            variance=None if solution.variance is None else float(solution.variance),
            n_sites=model.n_sites,
            e_inf=model.e_inf,
            reference_energy=model.reference_energy,
            observables=dict(observables),
            history={k: np.asarray(v) for k, v in solution.history.items()},
            info=to_jsonable({**solution.info, "solve_time": solve_time}, lossy=True),
            wall_time=wall_time,
            device=solution.device,
            seed=solution.seed,
            versions=package_versions(),
            git_commit=git_commit(),
            git_dirty=git_dirty(),
            created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            _state=solution.state,
            _model_object=model,
        )

    # -- derived quantities --------------------------------------------------------

    @property
    def energy_per_site(self) -> float:
        return self.energy / self.n_sites

    @property
    def v_score(self) -> float | None:
        """``N Var(E) / (E - E_inf)^2`` (:func:`v_score`)."""
        return v_score(self.energy, self.variance, self.n_sites, self.e_inf)

    @property
    def relative_error(self) -> float | None:
        """``|E - E_ref| / |E_ref|`` against ``reference_energy`` if known."""
        return relative_error(self.energy, self.reference_energy)

    @property
    def model_object(self):
        if self._model_object is None:
            from manybody.model import from_dict

            self._model_object = from_dict(self.model)
        return self._model_object

    @property
    def state(self):
        """The backend's state (loaded from disk on first use after ``load``)."""
        if self._state is None and self._state_folder is not None:
            from manybody.backends import get_backend

            self._state = get_backend(self.backend).load_state(self._state_folder, self.model_object)
        if self._state is None:
            raise ValueError("this result carries no state (the backend could not save it)")
        return self._state

    def expect(self, observables) -> dict[str, Estimate]:
        """Evaluate more observables on the stored state (names or Observable objects)."""
        from manybody.backends import get_backend

        model = self.model_object
        obs = resolve_observables(model, observables)
        return evaluate(get_backend(self.backend), self.state, model, obs)

    def __repr__(self) -> str:
        err = f" +/- {self.energy_error:.2g}" if self.energy_error else ""
        return (
            f"Result({self.model.get('model')}, backend={self.backend!r}, "
            f"energy={self.energy:.12g}{err}, per site={self.energy_per_site:.10g}, "
            f"variance={self.variance if self.variance is None else f'{self.variance:.3g}'})"
        )

    def summary(self) -> str:
        """A few human-readable lines: energy, error, variance, convergence verdict and warnings, observables."""
        lines = [repr(self)]
        if self.reference_energy is not None:
            lines.append(
                f"  reference {self.reference_energy:.12g}, relative error {self.relative_error:.3g}"
            )
        if self.v_score is not None:
            lines.append(f"  V-score {self.v_score:.3g}")
        step = self.info.get("lanczos_step")
        if step and "error" not in step:  # vmc's optional Lanczos step on the network
            lines.append(
                f"  one Lanczos step (1 + alpha H) psi: {step['energy']:.12g} +/- {step['energy_error']:.2g}"
                f", V-score {step['v_score']:.3g}"
            )
        if self.info.get("convergence"):  # a backend's verdict, e.g. vmc's
            lines.append(f"  {self.info['convergence']}")
        lines.extend(f"  warning: {w}" for w in self.info.get("warnings", []))
        for name, est in self.observables.items():
            if np.ndim(est.mean) == 0:
                lines.append(f"  {name} = {float(est.mean):.10g} +/- {float(est.error):.2g}")
            else:
                vals = ", ".join(f"{v:.5g}" for v in np.ravel(est.mean)[:8])
                more = ", ..." if np.size(est.mean) > 8 else ""
                lines.append(f"  {name}({est.axis_name}) = [{vals}{more}]")
        lines.append(f"  wall time {self.wall_time:.3g} s on {self.device}")
        return "\n".join(lines)

    # -- persistence -----------------------------------------------------------------

    def to_dict(self) -> dict:
        """JSON-able content (without history arrays and state)."""
        out = {
            "format_version": FORMAT_VERSION,
            **{
                f.name: getattr(self, f.name)
                for f in dataclasses.fields(self)
                if not f.name.startswith("_") and f.name not in ("observables", "history")
            },
            "observables": {k: v.to_dict() for k, v in self.observables.items()},
        }
        return to_jsonable(out, lossy=True)

    def save(self, path) -> Path:
        """Write the result (and the backend's state, if it can) to folder ``path``."""
        from manybody.backends import get_backend

        path = Path(path)
        with atomic_folder(path) as tmp:
            (tmp / "result.json").write_text(dump_json(self.to_dict()))
            np.savez(tmp / "history.npz", **self.history)
            if self._state is not None or self._state_folder is not None:
                try:
                    get_backend(self.backend).save_state(self.state, tmp / "state")
                except NotImplementedError:
                    shutil.rmtree(tmp / "state", ignore_errors=True)
        return path

    @classmethod
    def load(cls, path) -> Result:
        """Read a result written by ``save``; its state loads on first use.

        Raises
        ------
        FileNotFoundError
            ``path`` holds no ``result.json``.
        ResultLoadError
            The files are there but do not load (truncated, corrupted, written
            by another program or format version); the message names the
            folder and what is wrong.
        """
        path = Path(path)
        if not (path / "result.json").is_file():
            raise FileNotFoundError(f"no saved result at {path} (expected {path / 'result.json'})")

        def bad(what):
            return ResultLoadError(f"cannot load the result in {path}: {what}")

        try:
            data = load_json(path / "result.json")
        except (ValueError, OSError) as err:
            raise bad(err) from None
        if not isinstance(data, dict):
            raise bad(f"result.json holds a {type(data).__name__}, not a result")
        version = data.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise bad(f"unsupported result format {version!r} (expected {FORMAT_VERSION})")
        names = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
        missing = sorted(n for n in names if n not in data and n in _REQUIRED)
        unknown = sorted(set(data) - names)
        if missing or unknown:
            raise bad(f"result.json has missing keys {missing} and unknown keys {unknown}")
        try:
            data["observables"] = {
                k: Estimate.from_dict(v) for k, v in dict(data.get("observables", {})).items()
            }
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise bad(f"malformed observables ({type(err).__name__}: {err})") from None
        if not isinstance(data["energy"], (int, float)) or isinstance(data["energy"], bool):
            raise bad(f"energy is {data['energy']!r}, not a number")
        try:
            with np.load(path / "history.npz", allow_pickle=False) as h:
                data["history"] = {k: h[k] for k in h.files}
        except FileNotFoundError:
            raise bad("history.npz is missing") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise bad(f"history.npz does not load ({type(err).__name__}: {err})") from None
        state_folder = path / "state"
        return cls(**data, _state_folder=state_folder if state_folder.exists() else None)

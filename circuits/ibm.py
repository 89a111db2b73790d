"""IBM Quantum access: account, backend, execution mode and runtime options.

Accounts come from the environment (``QISKIT_IBM_TOKEN``, optionally
``QISKIT_IBM_INSTANCE`` and ``QISKIT_IBM_CHANNEL``) or from the account saved
with ``QiskitRuntimeService.save_account``. Channels are
``"ibm_quantum_platform"`` and ``"ibm_cloud"``. Backend names starting with
``fake_`` (``fake_manila``, ``fake_perth``, ...) select the runtime's fake
backends, which run locally (no account) with their device noise model.

The token is never stored, logged or put into an exception message: errors
from the runtime client are re-raised as :class:`IBMAccountError` with the
token scrubbed and without the client's traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from manybody.circuits.options import CHANNELS, MODES

__all__ = [
    "CHANNELS",
    "MODES",
    "IBMAccountError",
    "get_service",
    "fake_backend",
    "resolve_backend",
    "open_mode",
    "runtime_options",
    "scrub",
]


class IBMAccountError(RuntimeError):
    """No usable IBM Quantum account (missing or invalid credentials, no access)."""


def scrub(text: str) -> str:
    """``text`` with the token from the environment replaced by ``***``."""
    token = os.environ.get("QISKIT_IBM_TOKEN")
    return text.replace(token, "***") if token else text


def get_service(channel: str | None = None, instance: str | None = None):
    """A ``QiskitRuntimeService`` from the environment or the saved account.

    Raises
    ------
    IBMAccountError
        With what to set, if no account works (the token is never shown).
    """
    channel = channel or os.environ.get("QISKIT_IBM_CHANNEL") or None
    if channel is not None and channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
    instance = instance or os.environ.get("QISKIT_IBM_INSTANCE") or None
    token = os.environ.get("QISKIT_IBM_TOKEN") or None
    from qiskit_ibm_runtime import QiskitRuntimeService

    try:
        if token:
            return QiskitRuntimeService(channel=channel or CHANNELS[0], token=token, instance=instance)
        return QiskitRuntimeService(channel=channel, instance=instance)
    except Exception as err:  # the client raises many types; re-raise one, without its internals
        reason = scrub(f"{type(err).__name__}: {err}")
    raise IBMAccountError(
        f"no usable IBM Quantum account ({reason}). Set QISKIT_IBM_TOKEN (and QISKIT_IBM_INSTANCE, "
        f"QISKIT_IBM_CHANNEL in {CHANNELS}) or save an account with "
        "qiskit_ibm_runtime.QiskitRuntimeService.save_account(...); "
        "to run offline use a fake backend such as ibm_backend='fake_manila'"
    )


def fake_backend(name: str):
    """The runtime's fake backend called ``name`` (e.g. ``"fake_manila"``)."""
    import warnings

    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        backends = {b.name: b for b in FakeProviderForBackendV2().backends()}
    if name not in backends:
        raise ValueError(f"unknown fake backend {name!r}; allowed: {sorted(backends)}")
    return backends[name]


def resolve_backend(name: str | None, n_qubits: int, channel: str | None = None, instance: str | None = None):
    """The backend to run on: a fake one, one by name, or the least busy with enough qubits.

    Raises
    ------
    ValueError
        If the backend has fewer than ``n_qubits`` qubits.
    """
    if name is not None and name.startswith("fake_"):
        backend = fake_backend(name)
    else:
        service = get_service(channel, instance)
        try:
            if name is None:
                backend = service.least_busy(operational=True, simulator=False, min_num_qubits=n_qubits)
            else:
                backend = service.backend(name)
        except Exception as err:
            raise ValueError(scrub(f"ibm_backend={name!r} is not available: {err}")) from None
    check_width(backend, n_qubits)
    return backend


def check_width(backend, n_qubits: int) -> None:
    if backend.num_qubits < n_qubits:
        raise ValueError(
            f"the model needs {n_qubits} qubits but backend {backend.name!r} has only "
            f"{backend.num_qubits}: choose a larger ibm_backend (or noise_model)"
        )


@dataclass
class Mode:
    """The execution mode actually used, and why it differs from the request."""

    target: object
    name: str
    note: str = ""

    def close(self) -> None:
        if self.name in ("batch", "session"):
            self.target.close()


def open_mode(mode: str, backend) -> Mode:
    """Open ``"job"``, ``"batch"`` or ``"session"`` mode on ``backend``.

    The Open plan refuses sessions: the refusal falls back to batch mode and
    says so in ``Mode.note`` (reported in ``Solution.info``).
    """
    from qiskit_ibm_runtime import Batch, Session

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "job":
        return Mode(backend, "job")
    if mode == "batch":
        return Mode(Batch(backend=backend), "batch")
    try:
        return Mode(Session(backend=backend), "session")
    except Exception as err:
        note = scrub(
            f"session refused ({type(err).__name__}: {err}); Open-plan accounts cannot open sessions, "
            "so the jobs ran in batch mode"
        )
        return Mode(Batch(backend=backend), "batch", note)


def runtime_options(opts, local: bool) -> dict:
    """``executor_estimator.EstimatorOptions`` (as a dict) from the VQE options."""
    out: dict = {"resilience_level": opts.resilience_level, "default_shots": opts.shots}
    resilience = {}
    if opts.measure_mitigation is not None:
        resilience["measure_mitigation"] = opts.measure_mitigation
    if opts.zne is not None:
        resilience["zne_mitigation"] = opts.zne
    if opts.zne_noise_factors is not None:
        resilience["zne"] = {"noise_factors": list(opts.zne_noise_factors)}
    if resilience:
        out["resilience"] = resilience
    if opts.twirling is not None:
        out["twirling"] = {"enable_gates": opts.twirling, "enable_measure": opts.twirling}
    if opts.dynamical_decoupling is not None:
        out["dynamical_decoupling"] = {"enable": bool(opts.dynamical_decoupling)}
        if isinstance(opts.dynamical_decoupling, str):
            out["dynamical_decoupling"]["sequence_type"] = opts.dynamical_decoupling
    if opts.max_execution_time is not None:
        out["max_execution_time"] = opts.max_execution_time
    if local and opts.seed is not None:
        out["simulator"] = {"seed_simulator": int(opts.seed)}
    return out

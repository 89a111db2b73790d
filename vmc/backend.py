"""The VMC backend (``backend="vmc"``): an autoregressive transformer optimised with SR.

``manybody.solve(model, backend="vmc", seed=0, n_iter=300, ...)`` reads the
compiled problem (``model.problem``: qubits, order, constraints, Jordan-Wigner
qubit Hamiltonian, declared sign structures), builds the
:class:`~manybody.vmc.network.ARTransformer` on ``Qubit(n_qubits)`` with the
constraints masked in (exact sampling, only physical configurations), the
chosen sign structure (:mod:`manybody.vmc.signs`) and, if asked (``symmetry``), the
symmetrisation over a group of the model's symmetries (:mod:`manybody.vmc.symmetric`), minimises the energy with
``VMC_SR`` (see :mod:`manybody.vmc.driver`), then evaluates the energy, its
variance and the observables on ``n_eval_samples`` fresh exact samples and
judges the run (collapse, rare configurations the samples missed, convergence:
:mod:`manybody.vmc.diagnostics`).

The state saves without pickle: ``network.json`` (network hyper-parameters)
and ``params.msgpack`` (flax msgpack of the parameters); it reloads against
the model for ``Result.load(...).expect(...)``.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np

from manybody.backends import Backend, Solution
from manybody.io import to_jsonable
from manybody.signs import SignStructure
from manybody.symmetries import symmetry_group
from manybody.vmc import operators as ops
from manybody.vmc.compiled import release_compiled_code
from manybody.vmc.diagnostics import (
    convergence_verdict,
    coverage_check,
    error_bar_is_short,
    is_collapsed,
    support_check,
)
from manybody.vmc.driver import optimize
from manybody.vmc.masking import ConstraintAutomaton
from manybody.vmc.network import PHASE_INIT_SCALE, ARTransformer, initial_variables
from manybody.vmc.operators import estimates_from_local_values, local_values, to_pauli_strings
from manybody.vmc.options import AUTO, VMCEvolveOptions, VMCOptions, warm_start_folder
from manybody.vmc.phase import amplitude_of
from manybody.vmc.sampler import TokenSampler
from manybody.vmc.scale import step_factor
from manybody.vmc.signs import LEARNED, TRAINED, learned_phase, phase_network, sign_rule
from manybody.vmc.symmetric import SymmetricAR, group_order, symmetry_generators

__all__ = ["VMCBackend", "VMCOptions", "VMCState", "device_name"]

_DTYPES = {"float64": jnp.float64, "float32": jnp.float32}


@dataclass
class VMCState:
    """A trained network: hyper-parameters (``config``) and parameters (a flax pytree)."""

    config: dict
    params: Any
    seed: int = 0
    n_eval_samples: int = 8192
    chunk_size: int | None = None
    n_samples: int | None = None
    """Rows per batch of the evaluation's local values and samples per draw of its sampling: the
    training's ``n_samples`` (its compiled shapes); None: all ``n_eval_samples`` at once."""
    distinct: int | None = None
    """Rows of the training's distinct-sample local energies (None: ``n_samples``)."""
    _vstate: Any = field(default=None, repr=False, compare=False)
    _samples: Any = field(default=None, repr=False, compare=False)


def device_name() -> str:
    """``"cpu"``, ``"gpu"``, or ``"gpu x4"`` for the JAX devices NetKet shards over."""
    devices = jax.devices()
    return devices[0].platform + (f" x{len(devices)}" if len(devices) > 1 else "")


def build_network(model, config: dict):
    """The masked transformer for ``model`` (read through ``model.problem``) with hyper-parameters
    ``config``, wrapped in its learned phase and its symmetrisation if ``config`` asks."""
    problem = getattr(model, "problem", model)
    n, order = problem.n_qubits, np.asarray(problem.qubit_order, dtype=int)
    automaton = ConstraintAutomaton(n, problem.constraints, order)
    rule = SignStructure.from_dict(config.get("sign_rule"))
    linear = None if rule is None or rule.linear is None else np.asarray(rule.linear, dtype=int)[order]
    pairs = None if rule is None else rule.pair_matrix(n)
    hashable = nk.utils.HashableArray
    if config.get("symmetry"):
        network = build_network(problem, {**config, "symmetry": None})
        permutations, flips = symmetry_group(problem, [problem.symmetry(name) for name in config["symmetry"]])
        return SymmetricAR(
            hilbert=network.hilbert,
            amplitude=network,
            permutations=hashable(permutations),
            flips=hashable(flips),
        )
    if config.get("phase") in LEARNED:
        # a declared structure only starts the learned phase (qubit order)
        amplitude = build_network(problem, {**config, "sign_rule": None, "phase": None})
        return phase_network(problem, config["phase"], amplitude, rule)
    return ARTransformer(
        hilbert=nk.hilbert.Qubit(n),
        order=hashable(order),
        transitions=hashable(automaton.transitions) if problem.constraints else None,
        sign_linear=None if linear is None else hashable(linear),
        sign_pairs=None if pairs is None else hashable(pairs[np.ix_(order, order)]),
        d_model=config["d_model"],
        n_heads=config["n_heads"],
        n_layers=config["n_layers"],
        patch=config.get("patch", 1),
        use_cache=config.get("use_cache", True),
        param_dtype=_DTYPES[config.get("dtype", "float64")],
        phase_init_scale=0.0 if rule is not None and rule.exact else PHASE_INIT_SCALE,
    )


def make_vstate(model, config: dict, n_samples: int, seed: int, chunk_size=None, params=None):
    """An ``MCState`` of :func:`build_network` with exact autoregressive sampling (parameters if given)."""
    net = build_network(model, config)
    sampler = TokenSampler(net.hilbert)
    vs = nk.vqs.MCState(
        sampler,
        net,
        n_samples=n_samples,
        variables=initial_variables(net, seed, sampler.dtype),
        sampler_seed=seed + 1,
        chunk_size=chunk_size,
    )
    if params is not None:
        vs.parameters = flax.serialization.from_state_dict(vs.parameters, params)
    return vs


def read_state(folder: Path, problem) -> tuple[dict, dict]:
    """The network hyper-parameters and parameters saved in ``folder``, checked against ``problem``."""
    config = json.loads((folder / "network.json").read_text())
    if config.get("n_qubits") != problem.n_qubits:
        raise ValueError(
            f"{folder}: the saved network has {config.get('n_qubits')} qubits, "
            f"model {problem.name!r} has {problem.n_qubits}"
        )
    params = flax.serialization.msgpack_restore((folder / "params.msgpack").read_bytes())
    return config, params


def _eval_batch(state: VMCState) -> int:
    """Rows per batch of the evaluation's local values: the training's compiled shape."""
    return state.distinct or state.n_samples or state.n_eval_samples


def _in_batches(fun, rows: int):
    """``fun`` (configs -> values) applied in batches of ``rows`` configurations, the last one padded
    with copies of the first configuration: a single compiled shape for any number of them."""

    def call(configs):
        configs = np.asarray(configs)
        if not len(configs):
            return np.zeros(0, dtype=complex)
        padded = np.concatenate([configs, np.repeat(configs[:1], -len(configs) % rows, axis=0)])
        values = [np.asarray(fun(chunk)) for chunk in np.split(padded, len(padded) // rows)]
        return np.concatenate(values)[: len(configs)]

    return call


class VMCBackend(Backend):
    name = "vmc"
    Options = VMCOptions
    EvolveOptions = VMCEvolveOptions

    def check_model(self, model, options: VMCOptions) -> None:
        problem = model.problem
        ConstraintAutomaton(problem.n_qubits, problem.constraints, np.asarray(problem.qubit_order, dtype=int))
        if problem.n_qubits < 2 or problem.sector_dimension() < 2:
            raise ValueError(
                f"model {model.name!r} has {problem.n_qubits} qubit(s) and a sector of "
                f"{problem.sector_dimension()} state(s): nothing for VMC to learn, use backend='exact'"
            )
        if options.patch != AUTO and problem.n_qubits % options.patch:
            raise ValueError(
                f"patch={options.patch} must divide the {problem.n_qubits} qubits of model {model.name!r}"
            )
        sign_rule(problem, options.sign_rule)
        learned_phase(problem, options.sign_rule)
        symmetry_generators(problem, options.symmetry)
        if options.warm_start is not None:
            read_state(warm_start_folder(options.warm_start), problem)

    def solve(self, model, options: VMCOptions) -> Solution:
        problem = model.problem
        release_compiled_code()
        rule = sign_rule(problem, options.sign_rule)
        learned = learned_phase(problem, options.sign_rule)
        saved = params = None
        if options.warm_start is not None:
            saved, params = read_state(warm_start_folder(options.warm_start), problem)
            rule, learned = SignStructure.from_dict(saved.get("sign_rule")), saved.get("phase")
        # "auto" sizes chosen for this model (more samples where a phase is trained)
        options, resolved = options.resolved(problem, trained_phase=learned in TRAINED)
        step = step_factor(problem)  # the SR step in units of the Hamiltonian's energy scale
        options = copy.copy(options)  # not replace(): the scaled step may exceed the user-facing bound
        options.learning_rate *= step
        if saved is None:
            config = {
                "n_qubits": problem.n_qubits,
                "d_model": options.d_model,
                "n_heads": options.n_heads,
                "n_layers": options.n_layers,
                "patch": options.patch,
                "dtype": options.dtype,
                "sign_rule": None if rule is None else rule.to_dict(),
                "phase": learned,
                "symmetry": [g.name for g in symmetry_generators(problem, options.symmetry)] or None,
            }
        else:  # the saved network runs: report its sizes, not those chosen above
            config = saved
            resolved = {**resolved, **{k: saved[k] for k in ("d_model", "n_heads", "n_layers")}}
            resolved["patch"] = saved.get("patch", 1)
        vs = make_vstate(
            model,
            {**config, "use_cache": options.use_cache},
            options.n_samples,
            options.seed,
            options.chunk_size,
            params,
        )
        hamiltonian = to_pauli_strings(problem.hamiltonian, problem.n_qubits, vs.hilbert, ops.LOCAL_DTYPE)
        keys = (
            "seed",
            "n_iter",
            "n_samples",
            "learning_rate",
            "lr_final_fraction",
            "diag_shift",
            "diag_shift_final",
            "momentum",
        )
        fingerprint = json.dumps(
            to_jsonable([problem.model_dict, config, {k: getattr(options, k) for k in keys}], lossy=True),
            sort_keys=True,
        )
        history, info = optimize(
            vs,
            hamiltonian,
            options,
            progress_label=f"vmc {problem.name}",
            fingerprint=fingerprint,
            sector_dimension=problem.sector_dimension(),
        )
        state = VMCState(
            config=config,
            params=flax.serialization.to_state_dict(vs.parameters),
            seed=options.seed,
            n_eval_samples=options.n_eval_samples,
            chunk_size=options.chunk_size,
            n_samples=options.n_samples,
            distinct=info["distinct_rows"],
        )
        [stats] = estimates_from_local_values(self._eval_values(state, model, hamiltonian.plan))
        energy, error, variance = stats.mean, stats.error, stats.variance
        evs = self._eval_vstate(state, model)
        samples = self._eval_samples(state, model)
        log_value = _in_batches(evs.log_value, len(samples))  # one compiled shape for both checks
        support = support_check(samples, log_value, hamiltonian)
        coverage = coverage_check(
            samples,
            log_value,
            lambda x: local_values(evs, x, hamiltonian.plan, _eval_batch(state), ops.LOCAL_DTYPE)[0],
            hamiltonian.plan.masks,
            energy,
        )
        collapsed = is_collapsed(support, variance)
        short = not collapsed and error_bar_is_short(coverage, variance)
        messages = []
        if collapsed:
            # the sampled variance misses every configuration H reaches outside the support:
            # report the exact variance of the state on its support and the error bar it implies
            variance = support["support_variance"]
            error = max(error, float(np.sqrt(variance / options.n_eval_samples)))
        elif short:
            # add the variance of the configurations next to the samples that were never drawn
            variance = stats.variance + coverage["unseen_variance"]
            error = max(error, float(np.sqrt(variance / options.n_eval_samples)))
            messages.append(
                f"VMC: the sampled error bar of the energy is unreliable: {coverage['unseen_neighbours']} "
                f"configuration(s) of total probability {coverage['unseen_neighbour_probability']:.2g} that H "
                f"connects to the samples were never drawn and carry an energy variance of "
                f"{coverage['unseen_variance']:.2g} (sampled: {stats.variance:.2g}); the reported variance "
                f"includes it and the error bar grew to {error:.2g}. Raise n_eval_samples."
            )
        verdict = convergence_verdict(history["energy"], energy, variance, problem.n_sites, problem.e_inf)
        if collapsed:
            verdict.update(converged=False, convergence="not converged: the distribution collapsed")
            messages.append(
                f"VMC: |psi|^2 collapsed onto {support['n_distinct_samples']} configuration(s) (probability "
                f"{support['sampled_probability']:.9g}); the sampled variance {stats.variance:.2g} misses the "
                f"configurations H connects them to, whose exact variance is {variance:.3g}. Lower "
                "learning_rate or raise diag_shift."
            )
        for message in messages:
            warnings.warn(message, RuntimeWarning, stacklevel=2)
        if options.lanczos_step:
            from manybody.vmc.lanczos import lanczos_step_of_state

            try:  # a failed step (e.g. memory on a large lattice) must not lose the trained network
                info["lanczos_step"] = lanczos_step_of_state(state, model).to_dict()
            except Exception as failure:  # noqa: BLE001
                info["lanczos_step"] = {"error": f"{type(failure).__name__}: {failure}"}
                messages.append(
                    f"VMC: the Lanczos step failed ({type(failure).__name__}: {failure}); the network's result stands"
                )
                warnings.warn(messages[-1], RuntimeWarning, stacklevel=2)
        transitions = amplitude_of(vs.model).transitions
        info.update(
            n_eval_samples=options.n_eval_samples,
            sign_rule=learned or ("none" if rule is None else rule.name),
            step_factor=step,
            sign_rule_start=None if rule is None or not learned else rule.name,
            automaton_max_states=1 if transitions is None else int(np.asarray(transitions).shape[1]),
            symmetry=config.get("symmetry") or "none",
            symmetry_group_order=group_order(vs.model),
            collapsed=collapsed,
            error_bar_short=short,
            resolved=resolved,
            **support,
            **coverage,
            **verdict,
            warnings=messages,
        )
        return Solution(
            energy=energy,
            state=state,
            energy_error=error,
            variance=variance,
            history=history,
            info=info,
            device=device_name(),
            seed=options.seed,
        )

    def evolve(self, model, initial, times, options: VMCEvolveOptions):
        """Time-dependent VMC with NetKet's TDVP driver (:mod:`manybody.vmc.evolve`)."""
        from manybody.vmc.evolve import evolve

        self.check_model(model, VMCOptions(sign_rule="none"))
        return evolve(model, initial, times, options)

    def _eval_vstate(self, state: VMCState, model):
        """The evaluation MCState, built once per state; it samples in draws of the training's
        ``n_samples`` (the sampler the training compiled), else of ``n_eval_samples``."""
        if state._vstate is None:
            draw = state.n_samples or state.n_eval_samples
            state._vstate = make_vstate(
                model, state.config, draw, state.seed + 7919, state.chunk_size, state.params
            )
        return state._vstate

    def _eval_samples(self, state: VMCState, model) -> np.ndarray:
        """The evaluation samples (n_eval_samples, n_qubits): fresh exact samples, drawn once per
        state in draws of the evaluation MCState's ``n_samples`` (a new sample count would compile
        the sampler again: 0.8-2.5 s at the first solve of a process)."""
        if state._samples is None:
            vs = self._eval_vstate(state, model)
            draws = -(-state.n_eval_samples // vs.n_samples)
            samples = [np.asarray(vs.sample()).reshape(-1, model.problem.n_qubits) for _ in range(draws)]
            state._samples = np.concatenate(samples)[: state.n_eval_samples]
        return state._samples

    def _eval_values(self, state: VMCState, model, operators) -> np.ndarray:
        """Local values (n_ops, n_eval_samples) of ``operators`` (QubitOperators or a FlipPlan): each
        distinct sample once, in batches of the training's shape (its compiled local energies)."""
        vs = self._eval_vstate(state, model)
        return local_values(
            vs, self._eval_samples(state, model), operators, _eval_batch(state), ops.LOCAL_DTYPE
        )

    def expect(self, state: VMCState, model, operators) -> list:
        return estimates_from_local_values(self._eval_values(state, model, operators))

    def save_state(self, state: VMCState, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            **state.config,
            "seed": state.seed,
            "n_eval_samples": state.n_eval_samples,
            "n_samples": state.n_samples,
            "distinct": state.distinct,
        }
        (folder / "network.json").write_text(json.dumps(meta, indent=1))
        (folder / "params.msgpack").write_bytes(flax.serialization.msgpack_serialize(state.params))

    def load_state(self, folder: Path, model) -> VMCState:
        config, params = read_state(folder, model.problem)
        seed, n_eval = config.pop("seed", 0), config.pop("n_eval_samples", 8192)
        n_samples, distinct = config.pop("n_samples", None), config.pop("distinct", None)
        return VMCState(
            config=config,
            params=params,
            seed=seed,
            n_eval_samples=n_eval,
            n_samples=n_samples,
            distinct=distinct,
        )

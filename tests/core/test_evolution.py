"""Real-time evolution on the exact backend against closed forms and dense matrix exponentials."""

import numpy as np
import pytest
import scipy.linalg

import manybody as mb
from manybody.lattice import Chain
from manybody.models import Heisenberg, Schwinger
from manybody.operators import of, spin


def test_two_spins_closed_form():
    """H = S_1.S_2 from |up, down>: <S^z_0>(t) = cos(t)/2, echo cos^2(t/2), entropy of (cos, sin)(t/2)."""
    t = np.linspace(0, 3, 13)
    ev = mb.evolve(Heisenberg(Chain(2)), "01", t, observables=[mb.Observable("sz0", spin("z", 0))])
    assert np.allclose(ev.observables["sz0"].mean, 0.5 * np.cos(t), atol=1e-12)
    assert np.allclose(ev.loschmidt_echo, np.cos(t / 2) ** 2, atol=1e-12)
    p = np.clip(np.stack([np.cos(t / 2) ** 2, np.sin(t / 2) ** 2]), 1e-300, 1)
    assert np.allclose(ev.entropy, -(p * np.log(p)).sum(axis=0), atol=1e-10)
    assert np.allclose(ev.energy.mean, -0.25, atol=1e-12)  # <up down|H|up down> = -J/4, conserved


def _dense_evolution(model, psi0_full, times, op):
    """<op>(t) from scipy's dense expm on OpenFermion's full-space matrix (qubit 0 most significant there)."""
    n = model.n_qubits
    H = of().get_sparse_operator(model.qubit_hamiltonian, n_qubits=n).toarray()
    O = of().get_sparse_operator(op, n_qubits=n).toarray()
    out = []
    for t in times:
        psi = scipy.linalg.expm(-1j * t * H) @ psi0_full
        out.append(np.vdot(psi, O @ psi).real)
    return np.array(out)


def _full_basis_state(bits):
    n = len(bits)
    psi = np.zeros(2**n, dtype=complex)
    psi[int("".join(str(b) for b in bits), 2)] = 1.0  # OpenFermion: qubit 0 is the leftmost bit
    return psi


def test_neel_quench_matches_dense_exponential():
    model = Heisenberg(Chain(8), Delta=0.5)
    times = [0.0, 0.3, 1.0, 2.5]
    op = spin("z", 0) - spin("z", 1)
    ev = mb.evolve(model, "neel", times, observables=[mb.Observable("sz0-sz1", op)])
    bits = model.named_states()["neel"]
    reference = _dense_evolution(model, _full_basis_state(bits), times, op)
    assert np.allclose(ev.observables["sz0-sz1"].mean, reference, atol=1e-10)
    assert np.ptp(ev.energy.mean) < 1e-10


def test_quench_from_a_ground_state_matches_dense_exponential():
    """Ground state of the Ising-like XXZ chain (Delta = 3) evolved with the isotropic chain."""
    before, after = Heisenberg(Chain(6), Delta=3.0), Heisenberg(Chain(6))
    ground = mb.solve(before, backend="exact", observables=[])
    op = spin("z", 2) * spin("z", 3)
    times = [0.0, 0.7, 1.9]
    ev = mb.evolve(after, ground, times, observables=[mb.Observable("szsz", op)])
    n = before.n_qubits
    Hb = of().get_sparse_operator(before.qubit_hamiltonian, n_qubits=n).toarray()
    Sz = sum(of().get_sparse_operator(spin("z", i), n_qubits=n).toarray() for i in range(n))
    vals, vecs = np.linalg.eigh(Hb + 10.0 * Sz @ Sz)  # the S^z = 0 ground state of `before`
    reference = _dense_evolution(after, vecs[:, 0], times, op)
    assert np.allclose(ev.observables["szsz"].mean, reference, atol=1e-10)
    assert ev.loschmidt_echo[0] == pytest.approx(1.0)


def test_string_breaking_keeps_gauss_law_and_saves(tmp_path):
    """Schwinger model with static charges, from the bare vacuum: the total charge stays in its
    sector (exact backend), and the time series round-trips through save/load."""
    model = Schwinger(6, x=1.0, mu=0.5, charges=[0, 1, 0, 0, -1, 0])
    ev = mb.evolve(model, "vacuum", np.linspace(0, 2, 5), observables=["electric_field", "gauss_violation"])
    assert ev.observables["electric_field"].mean.shape == (5, 5)  # (times, links)
    assert np.abs(ev.observables["gauss_violation"].mean).max() < 1e-12
    # bare vacuum (Q_n = 0): L_n = sum_{l <= n} q_l, the string between the static charges
    assert np.allclose(ev.observables["electric_field"].mean[0], [0, 1, 1, 1, 0])
    back = mb.Evolution.load(ev.save(tmp_path / "ev"))
    assert np.array_equal(back.times, ev.times) and back.initial == "vacuum"
    assert np.allclose(back.observables["electric_field"].mean, ev.observables["electric_field"].mean)
    assert np.allclose(back.entropy, ev.entropy)


@pytest.mark.parametrize(
    "initial, times, match",
    [
        ("0000", [0, 1], "violates the constraint 'total_sz'"),
        ("01x1", [0, 1], "bit string"),
        ([0, 1, 2, 0], [0, 1], "bit string"),
        ("0101", [1, 0], "non-decreasing"),
        ("0101", [-1], ">= 0"),
        ("0101", [], "non-empty"),
    ],
)
def test_bad_evolution_input_is_refused(initial, times, match):
    with pytest.raises(ValueError, match=match):
        mb.evolve(Heisenberg(Chain(4)), initial, times)


def test_backends_that_cannot_evolve_say_so_before_importing_anything():
    from manybody.backends import _REGISTRY

    mb.register_backend(
        "probe_no_evolve", "manybody.exact:ExactBackend", options="manybody.exact:ExactOptions"
    )
    try:
        with pytest.raises(ValueError, match="does not evolve states; backends that do"):
            mb.evolve(Heisenberg(Chain(4)), "0101", [0, 1], backend="probe_no_evolve")
    finally:
        _REGISTRY.pop("probe_no_evolve")

"""Size options chosen from the model ("auto"): the cut width they are chosen by, against its
closed form on lattices where it is known (what a solve reports as ``info["resolved"]`` is checked
on every model family by ``tests/test_backend_matrix.py``)."""

from __future__ import annotations

import pytest

import manybody as mb
from manybody.lattice import Chain, Square
from manybody.models import SYK, Heisenberg, Hubbard, QuantumLink2D, Schwinger, Z2Gauge
from manybody.vmc.options import PHASE_SAMPLES, WIDE, VMCOptions, auto_options, cut_width

SIZES = ("n_iter", "n_samples", "d_model", "n_heads", "n_layers", "patch")
STEP = ("learning_rate", "momentum")


@pytest.mark.parametrize(
    "model, width",
    [
        (Heisenberg(Chain(8)), 1),  # one bond crosses each cut
        (Heisenberg(Chain(8, pbc=True)), 2),  # and the closing bond
        (Hubbard(Chain(6)), 2),  # the two modes of the last site before the cut
        (Schwinger(8), 1),  # the long-range electric energy is diagonal
        (Heisenberg(Square(4, 4)), 4),  # one row of Lx sites
        (Heisenberg(Square(4, 3, pbc=True)), 8),  # torus: 2 Lx
        (Heisenberg(Square(6, 6, pbc=True)), 12),
    ],
    ids=["chain", "ring", "hubbard_chain", "schwinger", "square_4x4_open", "torus_4x3", "torus_6x6"],
)
def test_cut_width_closed_form(model, width):
    assert cut_width(model.problem) == width


@pytest.mark.parametrize(
    "model, strings, width",
    [
        (Hubbard(Chain(8, pbc=True)), True, 14),  # the closing hops' strings cross every cut
        (Hubbard(Chain(8, pbc=True)), False, 4),  # two modes at each end of the chain
        (Hubbard(Square(4, 2)), False, 8),  # a row of 4 sites, 2 modes each
        (Heisenberg(Square(4, 4, pbc=True)), False, 8),  # no strings: the same as with them
    ],
    ids=["ring_strings", "ring_flips", "cluster_flips", "torus_flips"],
)
def test_cut_width_without_strings(model, strings, width):
    assert cut_width(model.problem, strings=strings) == width


def test_chains_keep_the_chain_sizes_and_2d_lattices_get_larger_ones():
    chain = auto_options(Heisenberg(Chain(20)).problem)
    torus = auto_options(Heisenberg(Square(4, 4, pbc=True)).problem)
    assert chain["cut_width"] <= WIDE < torus["cut_width"]
    assert chain["d_model"] % chain["n_heads"] == 0 and torus["d_model"] % torus["n_heads"] == 0
    for name in SIZES:
        assert torus[name] >= chain[name], name
    assert torus["n_iter"] * torus["n_samples"] > chain["n_iter"] * chain["n_samples"]
    # the chain sizes and step are those measured before they were chosen automatically
    assert {k: chain[k] for k in SIZES} == dict(
        n_iter=200, n_samples=512, d_model=16, n_heads=2, n_layers=2, patch=1
    )
    # plain SR at the measured step everywhere (SPRING momentum derailed a small 2D gauge model)
    for sizes in (chain, torus):
        assert {k: sizes[k] for k in STEP} == dict(learning_rate=0.05, momentum=None)


def test_the_auto_step_reaches_the_sr_driver():
    # what optimize() hands NetKet's VMC_SR: the resolved step, not the string "auto"
    from manybody.vmc.driver import _schedules

    for model in (Heisenberg(Chain(8)), Heisenberg(Square(4, 4, pbc=True))):
        opts, resolved = VMCOptions().resolved(model.problem)
        assert opts.momentum is None and resolved["momentum"] is None
        lr, _ = _schedules(opts)
        assert float(lr(0)) == pytest.approx(auto_options(model.problem)["learning_rate"])
    given = VMCOptions(learning_rate=0.1, momentum=0.9).resolved(Heisenberg(Square(4, 4, pbc=True)).problem)[
        0
    ]
    assert (given.learning_rate, given.momentum) == (0.1, 0.9)


@pytest.mark.parametrize(
    "model",
    [Z2Gauge(5, 5, pbc=False), QuantumLink2D(4, 5), Heisenberg(Square(6, 6, pbc=True))],
    ids=["z2_open_5x5", "qlm_torus_4x5", "torus_6x6"],
)
def test_every_2d_lattice_gets_the_2d_sizes(model):
    # 40-link gauge lattices (open, as in benchmarks/vmc_gauge_2d.py, and a torus) are wide like 4x4
    torus = auto_options(Heisenberg(Square(4, 4, pbc=True)).problem)
    sizes = auto_options(model.problem)
    assert sizes["cut_width"] > WIDE
    assert {k: sizes[k] for k in SIZES + STEP} == {k: torus[k] for k in SIZES + STEP}


@pytest.mark.parametrize(
    "model, patch",
    [
        (Heisenberg(Chain(20)), 1),  # chains keep a token per qubit
        (Heisenberg(Square(4, 4, pbc=True)), 4),  # a token per row
        (Hubbard(Square(4, 2)), 4),  # two sites (four modes) per token
        (Heisenberg(Square(6, 6, pbc=True)), 4),
        (SYK(12), 3),  # 6 qubits: the largest divisor up to 4
        (Heisenberg(Square(5, 3, pbc=True)), 3),  # 15 spins
        (Hubbard(Chain(8, pbc=True)), 1),  # wide through its Jordan-Wigner strings only
    ],
    ids=["chain", "torus_4x4", "hubbard_2x4", "torus_6x6", "syk12", "torus_5x3", "hubbard_ring"],
)
def test_auto_patch_divides_the_qubits(model, patch):
    sizes = auto_options(model.problem)
    assert sizes["patch"] == patch and model.n_qubits % patch == 0


@pytest.mark.parametrize(
    "model, rule, trained",
    [
        (Hubbard(Square(4, 2)), "auto", True),  # "auto" = the Slater phase
        (Hubbard(Chain(8, pbc=True)), "auto", True),  # even fillings: the Slater phase
        (Heisenberg(Square(4, 4, pbc=True)), "auto", False),  # Marshall's sign is fixed
        (Hubbard(Square(4, 2)), "hartree_fock", False),  # a fixed sign too
        (Hubbard(Chain(4)), "slater", True),  # a chain keeps the chain's samples
    ],
    ids=["hubbard_2x4", "hubbard_ring", "torus_4x4", "hubbard_2x4_hf", "hubbard_chain_slater"],
)
def test_wide_models_with_a_trained_phase_get_more_samples(model, rule, trained):
    from manybody.vmc.signs import TRAINED, learned_phase

    problem = model.problem
    assert (learned_phase(problem, rule) in TRAINED) == trained
    plain, _ = VMCOptions().resolved(problem)
    phase, resolved = VMCOptions(sign_rule=rule).resolved(problem, trained_phase=trained)
    more = trained and cut_width(problem) > WIDE
    assert resolved["n_samples"] == phase.n_samples == (PHASE_SAMPLES if more else plain.n_samples)
    assert plain.n_samples < PHASE_SAMPLES and phase.n_iter == plain.n_iter


def test_given_sizes_are_kept_and_auto_ones_fit_them():
    problem = Heisenberg(Square(4, 4, pbc=True)).problem
    opts, resolved = VMCOptions(n_iter=7, d_model=12).resolved(problem)
    assert (opts.n_iter, opts.d_model) == (7, 12) and "n_iter" not in resolved and "d_model" not in resolved
    assert opts.d_model % opts.n_heads == 0 and resolved["n_heads"] == opts.n_heads
    opts, resolved = VMCOptions(n_heads=3).resolved(problem)
    assert opts.d_model % 3 == 0 and opts.d_model >= auto_options(problem)["d_model"]
    explicit = dict(
        n_iter=1, n_samples=64, d_model=8, n_heads=2, n_layers=1, patch=1, learning_rate=0.05, momentum=None
    )
    assert VMCOptions(**explicit).resolved(problem) == (VMCOptions(**explicit), {})


@pytest.mark.parametrize("value", ["big", 0.5, -1])
def test_bad_size_names_the_option_and_auto(value):
    with pytest.raises(ValueError, match="d_model must be 'auto' or an integer"):
        VMCOptions(d_model=value)


@pytest.mark.parametrize("name, value", [("learning_rate", "fast"), ("learning_rate", 0), ("momentum", 1.0)])
def test_bad_step_names_the_option(name, value):
    with pytest.raises(ValueError, match=name):
        VMCOptions(**{name: value})


@pytest.mark.slow
def test_solve_samples_more_where_auto_trains_a_phase():
    """End to end: a wide Hubbard cluster (2x2 sites, cut width 6) under sign_rule "auto" trains
    the Slater phase and draws PHASE_SAMPLES per iteration. Slow: one wide compilation (32 s)."""
    options = dict(n_iter=1, n_eval_samples=64, d_model=8, n_heads=2, n_layers=1, progress=False)
    res = mb.solve(Hubbard(Square(2, 2)), backend="vmc", observables=[], **options)
    assert res.info["sign_rule"] == "slater"
    assert res.info["resolved"]["n_samples"] == PHASE_SAMPLES

"""Lattice geometry: bond counts against closed forms for every lattice and boundary."""

import numpy as np
import pytest

from manybody.lattice import Chain, Graph, Honeycomb, Kagome, Square, Triangular, lattice_from_dict


@pytest.mark.parametrize(
    "lattice, n_nn, n_nnn",
    [
        (Chain(7), 6, 5),
        (Chain(7, pbc=True), 7, 7),
        (Square(4, 3), 3 * 3 + 4 * 2, 2 * 3 * 2),
        (Square(4, 4, pbc=True), 32, 32),
        (Triangular(4, 4, pbc=True), 3 * 16, 3 * 16),
        (Triangular(3, 2), 2 * 2 + 3 * 1 + 2 * 1, None),  # a1, a2 and a2 - a1 bonds
        (Honeycomb(3, 3, pbc=True), 3 * 18 // 2, 3 * 18),
        (Kagome(3, 3, pbc=True), 2 * 27, 2 * 27),
    ],
)
def test_bond_counts(lattice, n_nn, n_nnn):
    """Coordination numbers z give z N / 2 bonds on periodic lattices."""
    assert len(lattice.bonds(1)) == n_nn
    if n_nnn is not None:
        assert len(lattice.bonds(2)) == n_nnn
    for i, j in lattice.bonds(1) + lattice.bonds(2):
        assert 0 <= i < j < lattice.n_sites


def test_bond_lengths_are_shells():
    lat = Kagome(3, 3, pbc=True)
    d = lat.distances()
    assert np.allclose([d[i, j] for i, j in lat.bonds(1)], 1.0)
    assert np.allclose([d[i, j] for i, j in lat.bonds(2)], np.sqrt(3))


def test_narrow_cluster_keeps_infinite_lattice_shells():
    """A 4x1 strip has no diagonal pairs: it must not promote distance 2 to 'next-nearest'."""
    assert Square(4, 1).bonds(2) == []


def test_snake_order_is_a_permutation_with_unit_steps():
    lat = Square(4, 3)
    order = lat.order
    assert sorted(order) == list(range(lat.n_sites))
    steps = np.linalg.norm(np.diff(lat.coords[order], axis=0), axis=1)
    assert np.allclose(steps, 1.0)


def test_square_plaquettes_and_vertices():
    lat = Square(3, 3, pbc=True)
    assert len(lat.links) == 18
    assert len(lat.plaquettes) == 9
    # Each link borders two plaquettes with opposite orientation.
    signs = np.zeros(len(lat.links))
    count = np.zeros(len(lat.links))
    for plaq in lat.plaquettes:
        for link, s in plaq:
            signs[link] += s
            count[link] += 1
    assert np.all(count == 2) and np.all(signs == 0)
    # Four links at each vertex: two outgoing, two incoming.
    for vl in lat.vertex_links:
        assert sorted(s for _, s in vl) == [-1, -1, 1, 1]
    assert len(Square(3, 2).plaquettes) == 2
    with pytest.raises(ValueError, match="extent >= 3"):
        _ = Square(2, 3, pbc=True).plaquettes


def test_momenta_chain():
    q = Chain(6, pbc=True).momenta()[:, 0]
    assert np.allclose(q, 2 * np.pi * np.arange(6) / 6)


def test_graph_and_round_trip():
    g = Graph([(0, 1), (1, 2), (2, 0)], next_nearest=[(0, 2)])
    assert g.n_sites == 3 and len(g.bonds(1)) == 3 and g.bonds(2) == [(0, 2)]
    for lat in (Chain(5, pbc=True), Square(3, 2, pbc=(True, False)), Kagome(2, 2), g):
        assert lattice_from_dict(lat.to_dict()) == lat


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Chain(0), "L must be an integer >= 1"),
        (lambda: Chain(-3), "L must be an integer >= 1"),
        (lambda: Square(3, 2.5), "Ly must be an integer >= 1"),
        (lambda: Square(3, 3, pbc=(True,)), "pbc must be"),
        (lambda: Graph([(0, 0)]), "distinct"),
        (lambda: Graph([(0, 5)], n_sites=3), "n_sites"),
        (lambda: lattice_from_dict({"kind": "hexagon"}), "unknown lattice kind"),
        (lambda: Square(2, 2, pbc="ab"), r"pbc must be True or False or a list of 2 .* got 'ab'"),
        (lambda: Chain(4, pbc=None), "pbc must be True or False, got None"),
        (lambda: Chain(4, pbc=1), "pbc must be True or False, got 1"),
        (lambda: Graph([(0, 1)], next_nearest=[(1, 1)]), r"next_nearest\[0\] = \(1, 1\) is a self-bond"),
        (lambda: Graph([(0, 1)], next_nearest=[(0, 4)]), r"next_nearest\[0\].*names site 4 but n_sites is 2"),
        (lambda: Graph([(0, "a")]), r"edges\[0\] = \(0, 'a'\) is not a pair of site indices"),
        (lambda: Graph([(0, 1)], coords=[[0.0], [np.nan]]), "coords must be 2 rows of finite"),
    ],
)
def test_bad_lattices(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_2d_lattice_with_one_extent_names_the_public_class():
    with pytest.raises(TypeError, match=r"^Square needs both extents Lx and Ly .* Square\(4, 4\)$") as info:
        Square(4)
    assert "_Lattice2D" not in str(info.value)


def test_single_site_chain_has_no_bonds():
    """One site is a valid lattice (the Hubbard atom): no bonds of either order."""
    lat = Chain(1)
    assert lat.n_sites == 1 and lat.bonds(1) == [] and lat.bonds(2) == []

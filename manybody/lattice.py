"""Lattices: sites, coordinates, bonds, a 1D order, and links/plaquettes.

Every lattice numbers its sites ``0 .. n_sites - 1`` in row-major order of the
unit cells (x fastest), then the basis sites of each cell. This number is the
*site index* used by every model and backend. Bonds are unique unordered pairs
``(i, j)`` with ``i < j``; on a periodic lattice whose extent is 2 a pair that is
a neighbour "both ways round" appears once (as in NetKet).

Nearest and next-nearest bonds are the first two distance shells of the
*infinite* lattice, so a narrow cluster does not promote a farther shell.

Gauge models use ``links`` (nearest-neighbour bonds oriented along the positive
lattice directions), ``vertex_links`` (the links at each site with +1 for
outgoing, -1 for incoming) and, on the square lattice, ``plaquettes``
(four links counter-clockwise with their orientation signs).
"""

from __future__ import annotations

import itertools
from functools import cached_property

import numpy as np

from manybody.validation import check_int

__all__ = [
    "Lattice",
    "Chain",
    "Square",
    "Triangular",
    "Honeycomb",
    "Kagome",
    "Graph",
    "lattice_from_dict",
]

_TOL = 1e-8


class Lattice:
    """Base class of all lattices: sites, coordinates and bonds.

    Subclasses provide ``n_sites``, ``coords`` (``(n_sites, dim)`` array),
    ``bonds(order)`` and ``to_dict``.
    """

    kind: str = "lattice"
    pbc: bool | tuple[bool, ...] = False

    @property
    def n_sites(self) -> int:
        raise NotImplementedError

    @property
    def coords(self) -> np.ndarray:
        raise NotImplementedError

    def bonds(self, order: int = 1) -> list[tuple[int, int]]:
        """Unique pairs ``(i, j)``, ``i < j``, of ``order``-th neighbours (1 or 2)."""
        raise NotImplementedError

    @property
    def order(self) -> np.ndarray:
        """A 1D ordering of the sites (used by DMRG and autoregressive models)."""
        return np.arange(self.n_sites)

    @property
    def links(self) -> list[tuple[int, int]]:
        """Nearest-neighbour links ``(tail, head)``, oriented; index = link number."""
        return list(self.bonds(1))

    @cached_property
    def vertex_links(self) -> list[list[tuple[int, int]]]:
        """For each site, ``(link, sign)`` with sign +1 if the link leaves the site."""
        out: list[list[tuple[int, int]]] = [[] for _ in range(self.n_sites)]
        for k, (tail, head) in enumerate(self.links):
            out[tail].append((k, +1))
            out[head].append((k, -1))
        return out

    @property
    def plaquettes(self) -> list[tuple[tuple[int, int], ...]]:
        raise NotImplementedError(f"{type(self).__name__} defines no plaquettes")

    def distances(self) -> np.ndarray:
        """``(n_sites, n_sites)`` Euclidean distances (minimum image if periodic)."""
        disp = self.displacements()
        return np.linalg.norm(disp, axis=-1)

    def displacements(self) -> np.ndarray:
        """``r_j - r_i`` for every pair, minimum image on periodic directions."""
        c = self.coords
        return c[None, :, :] - c[:, None, :]

    def momenta(self) -> np.ndarray:
        """Momenta ``q`` (``(n_q, dim)``) on which structure factors are evaluated."""
        raise NotImplementedError(f"{type(self).__name__} defines no momentum grid")

    def site_symmetries(self) -> dict[str, np.ndarray]:
        """Generators of the lattice's symmetry group as site permutations ``pi`` (a configuration
        ``c`` maps to ``c[pi]``), by name; none unless the lattice defines them."""
        return {}

    def to_dict(self) -> dict:
        raise NotImplementedError

    def __eq__(self, other) -> bool:
        return isinstance(other, Lattice) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "kind")
        return f"{type(self).__name__}({args})"


def _check_pbc(pbc, dim: int) -> tuple[bool, ...]:
    """``pbc`` as one bool per direction: True/False, or a list/tuple of ``dim`` of them."""
    if isinstance(pbc, (bool, np.bool_)):
        return (bool(pbc),) * dim
    if (
        isinstance(pbc, (list, tuple))
        and len(pbc) == dim
        and all(isinstance(p, (bool, np.bool_)) for p in pbc)
    ):
        return tuple(bool(p) for p in pbc)
    per = f" or a list of {dim} (one per direction)" if dim > 1 else ""
    raise ValueError(f"pbc must be True or False{per}, got {pbc!r}")


def _check_pairs(name: str, pairs, n_sites: int | None = None) -> list[tuple[int, int]]:
    """Bonds as sorted unique ``(i, j)``, ``i < j``: pairs of distinct non-negative integers."""
    out = set()
    for k, e in enumerate(pairs):
        ok = isinstance(e, (list, tuple, np.ndarray)) and len(e) == 2
        ok = ok and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in e)
        if not ok or e[0] == e[1]:
            what = "a self-bond" if ok else "not a pair of site indices"
            raise ValueError(f"{name}[{k}] = {e!r} is {what}: bonds are pairs (i, j) of distinct sites >= 0")
        if n_sites is not None and max(e) >= n_sites:
            raise ValueError(f"{name}[{k}] = {e!r} names site {max(e)} but n_sites is {n_sites}")
        out.add((int(min(e)), int(max(e))))
    return sorted(out)


class BravaisLattice(Lattice):
    """A Bravais lattice with a basis, ``extent`` unit cells along each primitive
    vector, open or periodic per direction.

    Parameters
    ----------
    extent : tuple of int
        Number of unit cells along each primitive vector.
    vectors : array (dim, dim)
        Primitive vectors (rows), lattice constant 1 for the nearest-neighbour
        distance unless stated otherwise by the subclass.
    basis : array (n_basis, dim)
        Positions of the basis sites inside a unit cell.
    pbc : bool or tuple of bool
        Periodic boundary conditions, one flag per direction (or one for all).
    """

    def __init__(self, extent, vectors, basis, pbc):
        self.extent = tuple(check_int(f"extent[{k}]", n, minimum=1) for k, n in enumerate(extent))
        self.vectors = np.asarray(vectors, dtype=float)
        self.basis = np.asarray(basis, dtype=float)
        self._pbc = _check_pbc(pbc, len(self.extent))

    @property
    def pbc(self):
        return self._pbc[0] if len(set(self._pbc)) == 1 else self._pbc

    @property
    def n_sites(self) -> int:
        return int(np.prod(self.extent)) * len(self.basis)

    @cached_property
    def cells(self) -> np.ndarray:
        """Integer cell coordinates of every site, ``(n_sites, dim)``."""
        grids = itertools.product(*(range(n) for n in reversed(self.extent)))
        cells = np.array([g[::-1] for g in grids], dtype=int)
        return np.repeat(cells, len(self.basis), axis=0)

    @cached_property
    def sublattice(self) -> np.ndarray:
        return np.tile(np.arange(len(self.basis)), int(np.prod(self.extent)))

    @cached_property
    def coords(self) -> np.ndarray:
        return self.cells @ self.vectors + self.basis[self.sublattice]

    @cached_property
    def _images(self) -> np.ndarray:
        """Translation vectors of the periodic images to consider."""
        shifts = [(-1, 0, 1) if p else (0,) for p in self._pbc]
        return np.array([np.multiply(s, self.extent) @ self.vectors for s in itertools.product(*shifts)])

    @cached_property
    def _shells(self) -> np.ndarray:
        """Distinct neighbour distances of the infinite lattice, ascending."""
        dim = len(self.extent)
        offsets = np.array(list(itertools.product(range(-3, 4), repeat=dim))) @ self.vectors
        d = self.basis[None, :, None, :] + offsets[None, None, :, :] - self.basis[:, None, None, :]
        dist = np.linalg.norm(d, axis=-1).ravel()
        dist = np.sort(dist[dist > _TOL])
        keep = np.concatenate([[True], np.diff(dist) > _TOL])
        return dist[keep]

    def _all_image_displacements(self) -> np.ndarray:
        c = self.coords
        return c[None, :, None, :] + self._images[None, None, :, :] - c[:, None, None, :]

    def displacements(self) -> np.ndarray:
        d = self._all_image_displacements()
        idx = np.argmin(np.linalg.norm(d, axis=-1), axis=-1)
        return np.take_along_axis(d, idx[..., None, None], axis=2)[:, :, 0, :]

    def _bonds_with_vectors(self, order: int):
        if order not in (1, 2):
            raise ValueError(f"order must be 1 (nearest) or 2 (next-nearest), got {order!r}")
        shell = self._shells[order - 1]
        d = self._all_image_displacements()
        hit = np.abs(np.linalg.norm(d, axis=-1) - shell) < _TOL
        out = []
        for i, j in zip(*np.nonzero(hit.any(axis=-1))):
            if i < j:
                vec = d[i, j, np.argmax(hit[i, j])]
                out.append((int(i), int(j), vec))
        return out

    def bonds(self, order: int = 1) -> list[tuple[int, int]]:
        return [(i, j) for i, j, _ in self._bonds_with_vectors(order)]

    @cached_property
    def links(self) -> list[tuple[int, int]]:
        out = []
        for i, j, vec in self._bonds_with_vectors(1):
            nz = vec[np.abs(vec) > _TOL]
            out.append((i, j) if nz[0] > 0 else (j, i))
        return out

    @property
    def order(self) -> np.ndarray:
        """Snake order for 2D: rows of cells alternate direction."""
        if len(self.extent) == 1:
            return np.arange(self.n_sites)
        nb = len(self.basis)
        lx, ly = self.extent
        cells = []
        for y in range(ly):
            xs = range(lx) if y % 2 == 0 else range(lx - 1, -1, -1)
            cells.extend(x + lx * y for x in xs)
        return np.array([c * nb + b for c in cells for b in range(nb)])

    def momenta(self) -> np.ndarray:
        """The reciprocal grid ``q = sum_k m_k b_k / L_k``, ``m_k = 0..L_k-1``."""
        recip = 2 * np.pi * np.linalg.inv(self.vectors).T
        grid = np.array(list(itertools.product(*(range(n) for n in self.extent))))
        return (grid / np.array(self.extent)) @ recip


class Chain(BravaisLattice):
    """A chain of ``L`` sites with spacing 1, open (default) or periodic."""

    kind = "chain"

    def __init__(self, L: int, pbc: bool = False):
        super().__init__((check_int("L", L, minimum=1),), [[1.0]], [[0.0]], pbc)

    @property
    def L(self) -> int:
        return self.extent[0]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "L": self.L, "pbc": self.pbc}

    def site_symmetries(self) -> dict[str, np.ndarray]:
        """``"reflection"`` (``x -> L-1-x``) and, if periodic, ``"translation"`` (``x -> x+1``)."""
        x = np.arange(self.L)
        out = {"reflection": self.L - 1 - x}
        if self.pbc:
            out["translation"] = (x - 1) % self.L
        return out


class _Lattice2D(BravaisLattice):
    _vectors: list
    _basis: list

    def __init__(self, Lx: int, Ly: int | None = None, pbc: bool | tuple[bool, bool] = False):
        if Ly is None:
            name = type(self).__name__
            raise TypeError(f"{name} needs both extents Lx and Ly (unit cells), e.g. {name}({Lx!r}, {Lx!r})")
        extent = (check_int("Lx", Lx, minimum=1), check_int("Ly", Ly, minimum=1))
        super().__init__(extent, self._vectors, self._basis, pbc)

    @property
    def Lx(self) -> int:
        return self.extent[0]

    @property
    def Ly(self) -> int:
        return self.extent[1]

    def to_dict(self) -> dict:
        pbc = self.pbc if isinstance(self.pbc, bool) else list(self.pbc)
        return {"kind": self.kind, "Lx": self.Lx, "Ly": self.Ly, "pbc": pbc}


class Square(_Lattice2D):
    """Square lattice of ``Lx * Ly`` sites, spacing 1; site ``i = x + Lx * y``."""

    kind = "square"
    _vectors = [[1.0, 0.0], [0.0, 1.0]]
    _basis = [[0.0, 0.0]]

    def site_symmetries(self) -> dict[str, np.ndarray]:
        """``"reflection"`` (``x -> Lx-1-x``), ``"reflection_y"`` (``y -> Ly-1-y``), ``"rotation"``
        by 90 degrees about the centre if ``Lx == Ly``, and ``"translation_x"`` /
        ``"translation_y"`` along periodic directions."""
        lx, ly = self.extent
        x, y = np.arange(self.n_sites) % lx, np.arange(self.n_sites) // lx
        out = {"reflection": (lx - 1 - x) + lx * y, "reflection_y": x + lx * (ly - 1 - y)}
        if lx == ly:
            out["rotation"] = y + lx * (lx - 1 - x)
        if self._pbc[0]:
            out["translation_x"] = (x - 1) % lx + lx * y
        if self._pbc[1]:
            out["translation_y"] = x + lx * ((y - 1) % ly)
        return out

    @cached_property
    def plaquettes(self) -> list[tuple[tuple[int, int], ...]]:
        """Elementary squares as four ``(link, sign)`` counter-clockwise.

        Starting at the lower-left corner ``(x, y)``: bottom link (+1), right
        link (+1), top link (-1, traversed against its +x orientation), left
        link (-1). Open directions give ``L - 1`` rows of plaquettes, periodic
        ones ``L`` (periodic directions need ``L >= 3``).
        """
        for k, (n, p) in enumerate(zip(self.extent, self._pbc)):
            if p and n < 3:
                raise ValueError(
                    f"plaquettes on a periodic direction need extent >= 3 (direction {k} has {n})"
                )
        index = {link: k for k, link in enumerate(self.links)}
        lx, ly = self.extent
        px, py = self._pbc

        def site(x, y):
            return (x % lx) + lx * (y % ly)

        out = []
        for y in range(ly if py else ly - 1):
            for x in range(lx if px else lx - 1):
                a, b, c, d = site(x, y), site(x + 1, y), site(x + 1, y + 1), site(x, y + 1)
                out.append(
                    ((index[(a, b)], +1), (index[(b, c)], +1), (index[(d, c)], -1), (index[(a, d)], -1))
                )
        return out


class Triangular(_Lattice2D):
    """Triangular lattice, primitive vectors (1, 0) and (1/2, sqrt(3)/2)."""

    kind = "triangular"
    _vectors = [[1.0, 0.0], [0.5, np.sqrt(3) / 2]]
    _basis = [[0.0, 0.0]]


class Honeycomb(_Lattice2D):
    """Honeycomb lattice, two sites per cell, nearest-neighbour distance 1."""

    kind = "honeycomb"
    _vectors = [[np.sqrt(3), 0.0], [np.sqrt(3) / 2, 1.5]]
    _basis = [[0.0, 0.0], [np.sqrt(3) / 2, 0.5]]


class Kagome(_Lattice2D):
    """Kagome lattice, three sites per cell, nearest-neighbour distance 1."""

    kind = "kagome"
    _vectors = [[2.0, 0.0], [1.0, np.sqrt(3)]]
    _basis = [[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]]


class Graph(Lattice):
    """A custom graph from an edge list.

    Parameters
    ----------
    edges : list of (int, int)
        Nearest-neighbour bonds.
    n_sites : int, optional
        Number of sites (default: one more than the largest index in ``edges``).
    next_nearest : list of (int, int), optional
        Next-nearest bonds (default: none).
    coords : array (n_sites, dim), optional
        Site coordinates (default: positions on a line, ``x = i``).
    """

    kind = "graph"

    def __init__(self, edges, n_sites: int | None = None, next_nearest=None, coords=None):
        if n_sites is not None:
            n_sites = check_int("n_sites", n_sites, minimum=1)
        self._edges = _check_pairs("edges", edges, n_sites)
        n_max = 1 + max((j for _, j in self._edges), default=0)
        self._n = n_sites if n_sites is not None else n_max
        self._nnn = _check_pairs("next_nearest", next_nearest or [], self._n)
        if coords is None:
            coords = np.arange(self._n, dtype=float)[:, None]
        coords = np.asarray(coords, dtype=float)
        if coords.ndim == 1:
            coords = coords[:, None]
        if coords.ndim != 2 or len(coords) != self._n or not np.all(np.isfinite(coords)):
            raise ValueError(f"coords must be {self._n} rows of finite coordinates, got shape {coords.shape}")
        self._coords = coords

    @property
    def n_sites(self) -> int:
        return self._n

    @property
    def coords(self) -> np.ndarray:
        return self._coords

    def bonds(self, order: int = 1) -> list[tuple[int, int]]:
        if order not in (1, 2):
            raise ValueError(f"order must be 1 (nearest) or 2 (next-nearest), got {order!r}")
        return list(self._edges if order == 1 else self._nnn)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "edges": [list(e) for e in self._edges],
            "n_sites": self._n,
            "next_nearest": [list(e) for e in self._nnn],
            "coords": self._coords.tolist(),
        }


_KINDS = {cls.kind: cls for cls in (Chain, Square, Triangular, Honeycomb, Kagome, Graph)}


def lattice_from_dict(data: dict) -> Lattice:
    """Rebuild a lattice from ``Lattice.to_dict()`` output."""
    data = dict(data)
    kind = data.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"unknown lattice kind {kind!r}; allowed: {sorted(_KINDS)}")
    if "pbc" in data and isinstance(data["pbc"], list):
        data["pbc"] = tuple(data["pbc"])
    return _KINDS[kind](**data)

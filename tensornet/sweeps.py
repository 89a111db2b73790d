"""The two-site update: quimb's ``DMRG2`` with a subspace-expansion mixer.

quimb's two-site DMRG has no mixer, and without one two-site DMRG gets stuck
whenever a Hamiltonian term skips an MPS site (Jordan-Wigner hopping of
spinful fermions, plaquettes of gauge models): the environment bases never
acquire the states that term needs. The update here replaces quimb's split
of the optimised two-site tensor ``theta`` by the density-matrix
perturbation of White (PRB 72, 180403 (2005)) in its subspace-expansion form
(Hubig et al., PRB 91, 155115 (2015)): for a right-moving step the kept basis
of the left block is the leading left singular space of
``[theta, alpha P]``, with ``P = (L_env W_i) theta`` the half-applied
Hamiltonian (normalised), so that states reachable by one Hamiltonian term
enter the basis with weight ``~alpha^2``. The right tensor is then
``U^dag theta`` (the exact projection of the optimised state), renormalised;
the discarded weight ``1 - |U^dag theta|^2`` is recorded. ``alpha = 0`` is
the plain truncated SVD.
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_dmrg2"]


def _keep(s, max_bond, cutoff):
    """Number of singular values kept: at most ``max_bond``, none below the eigensolver noise
    (``3e-8`` of the largest), discarding a total
    squared weight of at most ``cutoff`` (relative to the total)."""
    w = s**2 / np.sum(s**2)
    tail = np.cumsum(w[::-1])[::-1]  # tail[k] = weight discarded if k values are kept
    n = int(np.searchsorted(-tail, -cutoff, side="left")) if cutoff > 0 else len(s)
    n = max(n, 1)
    return min(n, max_bond, int(np.count_nonzero(s > 3e-8 * s[0])) or 1)


def make_dmrg2():
    """The ``DMRG2`` subclass (built lazily so that importing this module does not import quimb)."""
    import quimb.tensor as qtn
    from quimb.tensor.tn1d.dmrg import parse_2site_inds_dims

    class MixerDMRG2(qtn.DMRG2):
        """``quimb.tensor.DMRG2`` with a mixer (``self.alpha``) and discarded-weight tracking
        (``self.discarded``, the largest of the current sweep). Open boundaries only."""

        alpha = 0.0
        discarded = 0.0

        def _eigs(self, A, B=None, v0=None):
            """quimb's local eigensolver; if ARPACK does not converge (tight ``tol`` with
            quimb's 4 Lanczos vectors), retry with more vectors and iterations."""
            from scipy.sparse.linalg import ArpackNoConvergence, eigsh

            try:
                return super()._eigs(A, B=B, v0=v0)
            except ArpackNoConvergence:
                n = A.shape[0]
                tol = self.opts["local_eig_tol"]
                vals, vecs = eigsh(A, k=1, which="SA", v0=v0, tol=tol, ncv=min(n - 1, 32), maxiter=100 * n)
                return vals, vecs

        def _update_local_state_2site(self, i, direction, max_bond=None, cutoff=0.0, **_):
            dims, lix_L, lix_R, lix, uix_L, uix_R, uix, l_bond, u_bond = parse_2site_inds_dims(
                self._k, self._b, i
            )
            heff, _ = self.form_local_ops(i, dims, lix, uix)
            v0 = self._k[i].contract(self._k[i + 1]).to_dense(uix)
            loc_en, loc_gs = self._eigs(heff, v0=v0)
            theta = qtn.Tensor(np.asarray(loc_gs).reshape(dims), uix)
            if direction == "right":
                keep, other, lix_keep, site, env = uix_L, uix_R, lix_L, i, "_LEFT"
            else:
                keep, other, lix_keep, site, env = uix_R, uix_L, lix_R, i + 1, "_RIGHT"
            mat = theta.to_dense(keep, other)
            stacked = mat
            if self.alpha > 0:
                parts = [t for t in self._eff_ham if env in t.tags]
                parts += self._eff_ham.select_tensors(["_HAM", self._k.site_tag(site)], which="all")
                p = qtn.TensorNetwork([*parts, theta]).contract(all, output_inds=None)
                p = p.reindex(dict(zip(lix_keep, keep)))
                pmat = p.to_dense(keep, [ix for ix in p.inds if ix not in keep])
                pnorm = np.linalg.norm(pmat)
                if pnorm > 0:
                    stacked = np.hstack([mat, (self.alpha / pnorm) * pmat])
            # left singular vectors of the stacked matrix = eigenvectors of its density matrix
            w, u = np.linalg.eigh(stacked @ stacked.conj().T)
            w, u = np.clip(w[::-1], 0.0, None), u[:, ::-1]
            n = _keep(np.sqrt(w), max_bond or len(w), cutoff)
            u = u[:, :n]
            c = u.conj().T @ mat
            norm2 = float(np.vdot(c, c).real)
            self.discarded = max(self.discarded, 1.0 - norm2)
            c /= np.sqrt(norm2)
            dk = [d for d, ix in zip(dims, uix) if ix in keep]
            do = [d for d, ix in zip(dims, uix) if ix in other]
            iso = u.reshape(*dk, n)
            if direction == "right":
                rest = c.reshape(n, *do)
                self._k[i].modify(data=iso, inds=(*uix_L, u_bond))
                self._b[i].modify(data=iso.conj(), inds=(*lix_L, l_bond))
                self._k[i + 1].modify(data=rest, inds=(u_bond, *uix_R))
                self._b[i + 1].modify(data=rest.conj(), inds=(l_bond, *lix_R))
            else:
                rest = c.T.reshape(*do, n)
                self._k[i + 1].modify(data=iso, inds=(*uix_R, u_bond))
                self._b[i + 1].modify(data=iso.conj(), inds=(*lix_R, l_bond))
                self._k[i].modify(data=rest, inds=(*uix_L, u_bond))
                self._b[i].modify(data=rest.conj(), inds=(*lix_L, l_bond))
            energy = float(np.real(np.asarray(loc_en).ravel()[0]))
            return energy, energy

    return MixerDMRG2

"""PETSc options: per-solver defaults, deep-merged with the case file's, under one prefix.

Each solver owns a prefix (e.g. ``elasticity_``), so two solvers never see each other's
settings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import solver.compat  # noqa: F401
from petsc4py import PETSc

log = logging.getLogger(__name__)

# Conjugate gradients + smoothed-aggregation AMG. The near-nullspace (rigid-body modes) is
# attached to the matrix by the caller; GAMG reads it from there.
ELASTICITY_ITERATIVE = {
    "ksp_type": "cg",
    "ksp_norm_type": "unpreconditioned",
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "pc_gamg_agg_nsmooths": 1,
    "pc_gamg_threshold": 0.02,
    "pc_gamg_coarse_eq_limit": 1000,
    "pc_gamg_square_graph": 1,
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
    "mg_levels_ksp_max_it": 4,  # 28 CG its for P2 (2 sweeps: 37), see docs/benchmarks.md
    "mg_levels_ksp_chebyshev_esteig_steps": 20,
}

DIRECT = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}


# Phase-field electrodeposition: Newton with full steps ("basic"): with the residual's
# mixed scaling (sigma~ ~ 1e6 in the metal) "bt" takes lambda = 0.1 steps for 10+
# iterations where full steps converge in 4-5 (docs/electrodeposition.md, section 6); a
# step that diverges is cut back by the stepper. MUMPS for the linearised systems.
ELECTRODEPOSITION = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "basic",
    "snes_rtol": 1e-9,
    "snes_atol": 1e-10,
    "snes_stol": 1e-8,  # |dx| < stol |x|: after a quadratic step the error is O(stol^2)
    "snes_max_it": 20,
    "snes_error_if_not_converged": False,
    **DIRECT,
}


_DIVERGED = {int(v): k for k, v in vars(PETSc.SNES.ConvergedReason).items()
             if k.startswith("DIVERGED")}


def electrodeposition_fieldsplit(fields: tuple[str, ...]) -> dict:
    """M3's Newton with GMRES and a multiplicative field split over the named fields (the
    problem gives PETSc their index sets), one GAMG V-cycle per field. Measured on the
    Hong cases: 11-13 GMRES iterations per Newton step at 14k and 114k dofs at a fixed
    GMRES rtol of 1e-8. The GMRES tolerance follows Eisenstat & Walker (loose while the
    Newton residual is large, tight near convergence; at most 0.1): on a 197k-dof Hong
    variant 3.0x fewer GMRES iterations, 5 % more Newton iterations and 1.26-1.37x less
    wall time, the same deposited volume to 1e-9 (docs/benchmarks.md, section 4)."""
    out = {**{k: v for k, v in ELECTRODEPOSITION.items() if k not in DIRECT},
           "snes_ksp_ew": True, "snes_ksp_ew_rtolmax": 0.1,
           "ksp_type": "gmres", "ksp_rtol": 1e-8, "ksp_max_it": 500,
           "ksp_gmres_restart": 200, "pc_type": "fieldsplit",
           "pc_fieldsplit_type": "multiplicative"}
    for f in fields:
        out[f"fieldsplit_{f}_ksp_type"] = "preonly"
        out[f"fieldsplit_{f}_pc_type"] = "gamg"
    return out


def reason_name(reason: int) -> str:
    """' DIVERGED_...' for a negative SNESConvergedReason, '' otherwise (e.g. -100)."""
    name = _DIVERGED.get(int(reason))
    return f" {name}" if name else ""


def solve_nonlinear(problem) -> tuple[int, int, int]:
    """Solve a dolfinx NonlinearProblem; returns (SNESConvergedReason, Newton iterations,
    linear iterations). A PETSc error inside (e.g. a failed factorisation) is reason -100."""
    try:
        problem.solve()
        reason = int(problem.solver.getConvergedReason())
    except PETSc.Error as exc:
        log.debug("PETSc error in the nonlinear solve: %s", exc)
        reason = -100
    if reason <= 0:
        reset_preconditioner(problem.solver.getKSP())
    return (reason, int(problem.solver.getIterationNumber()),
            int(problem.solver.getLinearSolveIterations()))


def reset_preconditioner(ksp) -> None:
    """Drop a KSP's preconditioner data (e.g. a MUMPS factor) after a failed solve, re-read
    its options. Without this, a factorisation that failed once (zero pivot at a diverging
    Newton iterate) makes every later solve stop in MatSolve with MUMPS INFOG(1) = -3, so
    a time-step cut-back could never recover. A field split keeps its splits (toggling its
    type would drop the index sets the problem gave it, and every later solve would stop
    with "must have at least two fields"): its sub-solvers are reset instead."""
    pc = ksp.getPC()
    kind = pc.getType()
    if kind == "fieldsplit":
        try:
            subs = pc.getFieldSplitSubKSP()
        except PETSc.Error:  # never set up: nothing to drop
            return
        for sub in subs:
            reset_preconditioner(sub)
        return
    pc.setType("none")
    pc.setType(kind)
    pc.setFromOptions()


def merge(defaults: Mapping, user: Mapping | None) -> dict:
    """User options override defaults key by key; ``None`` removes a default."""
    out = dict(defaults)
    for k, v in (user or {}).items():
        k = k.lstrip("-")
        if v is None and k in out:
            del out[k]
        else:
            out[k] = v
    return out


def linear_solver(cfg) -> dict:
    """Options of a linear elasticity solve from a case's ``solver`` section (schema
    LinearSolver): MUMPS for ``type: direct``, CG + GAMG otherwise, with its rtol and
    iteration limit, then the section's petsc_options."""
    defaults = DIRECT if cfg.type == "direct" else ELASTICITY_ITERATIVE
    return merge({**defaults, "ksp_rtol": cfg.rtol, "ksp_max_it": cfg.max_iterations},
                 cfg.petsc_options)


def _fmt(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def configure(obj, prefix: str, options: Mapping, key: str = "petsc_options") -> None:
    """Apply ``options`` under ``prefix`` to a KSP/SNES/PC/Mat.

    The options stay in the database under the solver's own prefix: preconditioners such as
    GAMG create their level solvers (``mg_levels_*``) only at set-up time, during the first
    solve, and read their options then."""
    db = PETSc.Options()
    for k, v in options.items():
        db.setValue(prefix + k, _fmt(v))
    obj.setOptionsPrefix(prefix)
    try:
        obj.setFromOptions()
    except PETSc.Error as e:
        from solver.errors import CaseError

        raise CaseError(f"{key}: PETSc rejected the options under prefix '{prefix}' "
                        f"(error code {e.ierr}); check the option names and values") from None


def clear(prefix: str, options: Mapping) -> None:
    """Remove a solver's options from the database when the solver is destroyed (so a
    later solver with the same prefix starts clean and PETSc reports no stale options)."""
    db = PETSc.Options()
    for k in options:
        db.delValue(prefix + k)


def destroy_nonlinear(problem, prefix: str, options: Mapping) -> None:
    """Free a dolfinx NonlinearProblem's PETSc objects and its options (collective)."""
    clear(prefix, options)
    for name in ("_snes", "_A", "_b", "_x", "_P_mat"):
        obj = getattr(problem, name, None)
        if obj is not None:
            obj.destroy()

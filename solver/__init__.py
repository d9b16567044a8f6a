"""coatsolve: coupled mechano-electrochemical finite-element solver for coated Li/Na anodes.

Layout (one concern per sub-package):
  config/     case-file schema and loading (validated before any mesh is built)
  materials/  material library (cited data) and stiffness tensors
  geometry/   Gmsh generators (rank 0), distributed by DOLFINx
  physics/    one module per weak form (UFL only)
  numerics/   PETSc option handling, collective helpers
  coupling/   load/time stepping shared by every physics
  io/         outputs: fields, history, metrics, figures, logging
  cli.py      the `solver` command
"""

__version__ = "0.1.0"

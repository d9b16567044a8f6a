"""PETSc option handling, linear solvers and collective helpers shared by every physics."""

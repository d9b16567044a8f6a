"""Problem classes: assemble a physics module's forms into a solvable, steppable problem.

Every problem offers the stepping interface (``solve(t)``, ``state()``, ``set_time(t)``,
``metrics()``, ``n_dofs``, ``destroy()``) and the run hooks (``describe()``,
``history_columns()``, ``output_groups()``, ``update_outputs()``, ``finish(out, draw)``,
optionally ``after_step(step_info, out)`` for per-step outputs beyond history.csv) that
``solver.run`` drives; ``build_problem`` picks the class from the case.
"""


def build_problem(case, geo, materials):
    if case.physics.elasticity is not None:
        from solver.problems.elasticity import ElasticityProblem

        return ElasticityProblem(case, geo, materials)
    if case.physics.cohesive is not None:
        from solver.problems.cohesive import CohesiveProblem

        return CohesiveProblem(case, geo, materials)
    if case.physics.fracture is not None and case.physics.electrodeposition is not None:
        from solver.problems.deposition_fracture import DepositionFractureProblem

        return DepositionFractureProblem(case, geo, materials)
    if case.physics.fracture is not None:
        from solver.problems.fracture import FractureProblem

        return FractureProblem(case, geo, materials)
    if case.physics.electrodeposition.mechanics is not None:
        from solver.problems.stress_deposition_case import StressDepositionRun

        return StressDepositionRun.from_case(case, geo, materials)
    from solver.problems.electrodeposition_case import ElectrodepositionRun

    return ElectrodepositionRun.from_case(case, geo, materials)

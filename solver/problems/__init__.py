"""Problem classes: assemble a physics module's forms into a solvable, steppable problem."""

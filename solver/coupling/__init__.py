"""Load and time stepping shared by every physics."""

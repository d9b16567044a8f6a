"""Weak forms, one module per physics. Modules here return UFL; they solve nothing."""

"""Outputs: run directory, logging, history rows, metrics, ParaView fields and figures."""

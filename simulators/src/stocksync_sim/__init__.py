"""Simulators of the outside systems StockSync talks to."""

"""Benchmarks: each scenario measures one target of the architecture contract on this machine."""

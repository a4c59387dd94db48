"""Fault injection on one machine: a TCP proxy with a control API, and process controls."""

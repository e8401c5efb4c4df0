"""Benchmarks: speed, memory and scale of a lake refresh, against the floor and the pandas baseline."""

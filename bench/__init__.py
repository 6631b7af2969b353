"""Benchmark tools: a simulated web of many loopback hosts and a catalog generator for it.

`bench.simweb` serves the hosts, `bench.gencatalog` writes a catalog whose URLs point at
them together with the outcome each URL should get. Nothing here is part of linkhealth.
"""

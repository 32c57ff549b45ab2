"""The delivery engine: endpoint lanes, batches, the per-attempt deadline and the sweep.

Imports flow one way: tasks -> engine (lanes, attempts, sweep, wakeups) -> store. Import the
submodules themselves; this package imports nothing, so transport can use engine.deadline.
"""

"""The delivery engine: endpoint lanes, batches, the sweep, wake-ups and the store they share.

Imports flow one way: tasks -> engine (lanes, sender, sweep, wakeups) -> store -> models. The
engine never imports services, observability, views, portal or admin: it announces what happened
through engine.signals, and those layers listen (tests/test_layers.py enforces it).
"""

"""What the engine announces; metrics, logs and operator events listen (wired in apps.py).

The engine never calls up into those layers: it sends these and goes on. Receivers run in the
sending thread, after the fact they are told of, and must not raise.
"""

from django.dispatch import Signal

# An attempt of a claimed delivery begins (before its request is signed and sent).
# Arguments: delivery (with its event), webhook (None when it could not be loaded).
attempt_started = Signal()

# An attempt is over, its outcome known, before it is written (a lane writes its batch at once).
# Arguments: delivery, webhook (or None), record (engine.store.Record: the attempt and state).
attempt_finished = Signal()

# An attempt's outcome and the delivery's new state were written (the statement committed).
# Arguments: delivery, webhook (or None), attempt (its number set), status (the delivery's new
# status), health (what was written to the webhook because of it: failing_since when it started
# failing; is_active=False, disabled_reason and disabled_at when it was disabled; else {}).
attempt_recorded = Signal()

# A sweep begins. No arguments.
sweep_started = Signal()

# A sweep ran. Arguments: at (unix time), due (webhooks found with due work), woken.
sweep_finished = Signal()

"""The statements of the engine's PostgreSQL store (pgstore.py): one per step of a lane.

Data-modifying CTEs built once from the models' metadata; values always travel as parameters
(arrays for a batch, so the text of each statement is constant, and prepared once per
connection). Times are the database's (statement_timestamp(), read at each statement).
"""

import functools

from webhooks.engine.pgsql import columns, table
from webhooks.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    Lane,
    LaneWaiter,
    ProjectSlot,
    Webhook,
)


@functools.cache
def names(durable_claims: bool) -> dict[str, str]:
    return {
        "delivery": table(Delivery),
        "event": table(Event),
        "webhook": table(Webhook),
        "lane": table(Lane),
        "project_slot": table(ProjectSlot),
        "waiter": table(LaneWaiter),
        # The lanes a webhook may use now: one while its circuit breaker is open.
        "lanes_of_w": "CASE WHEN w.circuit_open_since IS NULL"
        " THEN COALESCE(w.max_in_flight, %(cap)s) ELSE 1 END",
        "attempt": table(DeliveryAttempt),
        "delivery_cols": columns(Delivery, "claimed"),
        "event_cols": columns(Event, "e"),
        "webhook_cols": columns(Webhook, "w"),
        "now": "statement_timestamp()",
        "lease_ends": "statement_timestamp() + %(lease)s * interval '1 second'",
        "renew_below": "statement_timestamp() + %(renew)s * interval '1 second'",
        # The lane and claim statements' commit: by default it waits for the WAL flush like any
        # other (the server's synchronous_commit), so a claim survives a crash of the database:
        # no delivery in flight twice, no webhook or project over its cap (tests/test_pg_crash.py).
        # With DURABLE_CLAIMS off it doesn't (set in the statement's own transaction only): one
        # fsync less per claim, and a crash within the WAL writer's delay undoes those claims.
        "claim_commit": "(SELECT set_config('synchronous_commit', "
        + ("current_setting('synchronous_commit')" if durable_claims else "'off'")
        + ", true)) AS claim_commit",
    }


# The lane's next due deliveries, locked and marked delivering; {guard} says the lane is ours.
_CLAIM = """
due AS (
    SELECT d.id FROM {delivery} d
    WHERE d.webhook_id = %(webhook)s AND d.status = 'pending' AND d.next_attempt_at <= {now}
      AND {guard}
    ORDER BY d.next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
),
claimed AS (
    UPDATE {delivery} d SET status = 'delivering', locked_until = {lease_ends},
        locked_by = %(worker)s, updated_at = {now}
    FROM due, {claim_commit} WHERE d.id = due.id
    RETURNING d.*
)"""

# A free lane of the webhook and a free slot of its project (their leases over), skipping those
# being taken right now, both taken or neither; then the claim. A webhook with due work that
# gets neither waits in the waiting list (and a successful one leaves it): a release wakes it.
ACQUIRE = (
    """
WITH free_lane AS (
    SELECT h.id FROM {lane} h JOIN {webhook} w ON w.id = h.webhook_id
    WHERE h.webhook_id = %(webhook)s AND h.expires_at <= {now} AND h.slot < {lanes_of_w}
    ORDER BY h.slot
    LIMIT 1
    FOR UPDATE OF h SKIP LOCKED
),
free_slot AS (
    SELECT p.id FROM {project_slot} p JOIN {webhook} w ON w.project_id = p.project_id
    WHERE w.id = %(webhook)s AND p.expires_at <= {now} AND p.slot < %(project_cap)s
    ORDER BY p.slot
    LIMIT 1
    FOR UPDATE OF p SKIP LOCKED
),
lane AS (
    UPDATE {lane} l SET token = %(token)s, expires_at = {lease_ends}, held_by = %(worker)s
    FROM free_lane, free_slot, {claim_commit}
    WHERE l.id = free_lane.id
    RETURNING l.slot
),
project_slot AS (
    UPDATE {project_slot} p SET token = %(token)s, expires_at = {lease_ends}
    FROM free_lane, free_slot
    WHERE p.id = free_slot.id
),
waits AS (
    INSERT INTO {waiter} (webhook_id, project_id, since)
    SELECT w.id, w.project_id, {now} FROM {webhook} w
    WHERE w.id = %(webhook)s AND NOT EXISTS (SELECT 1 FROM free_lane, free_slot)
      AND EXISTS (SELECT 1 FROM {delivery} d WHERE d.webhook_id = w.id
                  AND d.status = 'pending' AND d.next_attempt_at <= {now})
    ON CONFLICT (webhook_id) DO NOTHING
),
no_wait AS (
    DELETE FROM {waiter}
    WHERE webhook_id = %(webhook)s AND EXISTS (SELECT 1 FROM free_lane, free_slot)
),"""
    + _CLAIM.replace("{guard}", "EXISTS (SELECT 1 FROM lane)")
    + """
SELECT {now}, {webhook_cols}, {delivery_cols}, {event_cols},
    EXISTS (SELECT 1 FROM lane) AS taken,
    (SELECT count(*) FROM {lane} h WHERE h.webhook_id = w.id)
        < COALESCE(w.max_in_flight, %(cap)s)
    OR (SELECT count(*) FROM {project_slot} p WHERE p.project_id = w.project_id)
        < %(project_cap)s AS slots_missing
FROM {webhook} w
LEFT JOIN claimed ON true
LEFT JOIN {event} e ON e.id = claimed.event_id
WHERE w.id = %(webhook)s
ORDER BY claimed.next_attempt_at
"""
)

# A webhook's lane rows and its project's slot rows, made the first time it is woken (and when
# a cap grows); free, each with a token of its own (with the waker's, its claim_next would
# extend them all).
ADD_SLOTS = """
WITH lanes AS (
    INSERT INTO {lane} (webhook_id, slot, token, expires_at)
    SELECT w.id, s.slot, gen_random_uuid(), {now}
    FROM {webhook} w
    CROSS JOIN LATERAL generate_series(0, COALESCE(w.max_in_flight, %(cap)s) - 1) AS s(slot)
    WHERE w.id = %(webhook)s
    ON CONFLICT (webhook_id, slot) DO NOTHING
)
INSERT INTO {project_slot} (project_id, slot, token, expires_at)
SELECT w.project_id, s.slot, gen_random_uuid(), {now}
FROM {webhook} w CROSS JOIN generate_series(0, %(project_cap)s - 1) AS s(slot)
WHERE w.id = %(webhook)s
ON CONFLICT (project_id, slot) DO NOTHING
"""

# The project slot held with the lane of %(token)s.
_OUR_SLOT = """
    project_id = (SELECT project_id FROM {webhook} WHERE id = %(webhook)s) AND token = %(token)s
"""

# The lane is ours (its lease not over) and still allowed (its circuit may have opened since).
_OURS = (
    "EXISTS (SELECT 1 FROM {lane} h JOIN {webhook} w ON w.id = h.webhook_id"
    " WHERE h.webhook_id = %(webhook)s AND h.token = %(token)s AND h.expires_at > {now}"
    " AND h.slot < {lanes_of_w})"
)

# The lane's lease (and its project slot's) goes on while there is work, and ends (is given
# back) when there is none, or when the webhook may use fewer lanes now (its circuit opened).
# Going on, it is renewed only when less than %(renew)s seconds are left (about a second less
# than a fresh lease): a lane claiming a lone delivery every few milliseconds writes its two
# rows about once a second, not at each claim, and still holds them past its batch's leases.
# With %(keep)s, a lane with nothing due is kept too (it lingers, engine/linger.py), unless
# another webhook of the project waits for a slot (crowded: then it stops lingering). The
# webhook comes along, so every batch is sent with its current URL, secret and state; one row
# with no delivery when none was claimed.
_CLAIM_NEXT = (
    _CLAIM.replace("{guard}", _OURS)
    + """,
crowded AS (
    SELECT 1 FROM {waiter} x
    WHERE %(keep)s AND x.webhook_id <> %(webhook)s
      AND x.project_id = (SELECT project_id FROM {webhook} WHERE id = %(webhook)s)
    LIMIT 1
),
keeps AS (
    SELECT 1 WHERE %(keep)s AND NOT EXISTS (SELECT 1 FROM due) AND """
    + _OURS
    + """
      AND NOT EXISTS (SELECT 1 FROM crowded)
),
goes_on AS (
    SELECT EXISTS (SELECT 1 FROM due) OR EXISTS (SELECT 1 FROM keeps) AS yes
),
lane AS (
    UPDATE {lane}
    SET expires_at = CASE WHEN goes_on.yes THEN {lease_ends} ELSE {now} END
    FROM goes_on, {claim_commit}
    WHERE webhook_id = %(webhook)s AND token = %(token)s
      AND (NOT goes_on.yes OR expires_at < {renew_below})
),
project_slot AS (
    UPDATE {project_slot}
    SET expires_at = CASE WHEN goes_on.yes THEN {lease_ends} ELSE {now} END
    FROM goes_on
    WHERE (NOT goes_on.yes OR expires_at < {renew_below}) AND"""
    + _OUR_SLOT
    + ")"
)
_CLAIMED_NEXT = """
SELECT {now}, {webhook_cols}, {delivery_cols}, {event_cols},
    EXISTS (SELECT 1 FROM keeps) AS kept, EXISTS (SELECT 1 FROM crowded) AS crowded"""

CLAIM_NEXT = (
    "WITH"
    + _CLAIM_NEXT
    + _CLAIMED_NEXT
    + """
FROM {webhook} w
LEFT JOIN claimed ON true
LEFT JOIN {event} e ON e.id = claimed.event_id
WHERE w.id = %(webhook)s
ORDER BY claimed.next_attempt_at
"""
)

RELEASE = (
    """
WITH lane AS (
    UPDATE {lane} SET expires_at = {now} FROM {claim_commit}
    WHERE webhook_id = %(webhook)s AND token = %(token)s
)
UPDATE {project_slot} SET expires_at = {now} WHERE"""
    + _OUR_SLOT
)

# After a release (its own statement, so a webhook that began to wait meanwhile is seen): the
# webhook's own entry, and the project's longest waiting other webhook, leave the list.
WAITERS = """
DELETE FROM {waiter} WHERE webhook_id = %(webhook)s OR webhook_id = (
    SELECT x.webhook_id FROM {waiter} x
    WHERE x.project_id = (SELECT project_id FROM {webhook} WHERE id = %(webhook)s)
      AND x.webhook_id <> %(webhook)s
    ORDER BY x.since
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING webhook_id
"""

CLAIM_ONE = """
WITH claimed AS (
    UPDATE {delivery} d SET status = 'delivering', locked_until = {lease_ends},
        locked_by = %(worker)s, "trigger" = COALESCE(%(trigger)s, d."trigger"), updated_at = {now}
    WHERE d.id = %(delivery)s AND d.status = 'pending'
      AND (d.next_attempt_at <= {now} OR d.next_attempt_at IS NULL)
    RETURNING d.*
)
SELECT {now}, {webhook_cols}, {delivery_cols}, {event_cols}
FROM claimed
JOIN {event} e ON e.id = claimed.event_id
JOIN {webhook} w ON w.id = claimed.webhook_id
"""

# One row per claimed delivery, from %(records)s: a JSON array of one object per record, keyed
# by these columns (in pgstore._record_params' order); the attempt_* columns are NULL for one
# given back unsent. One JSON text costs the client far less to send than an array per column.
# %(ids)s (the same ids, as an array) leads the planner to the primary key: it would take
# json_to_recordset for 100 rows and scan the whole delivery table instead.
_RECORD_TYPES = {
    "id": "uuid",
    "lease": "timestamptz",
    "status": "text",
    "next_at": "timestamptz",
    "code": "int",
    "err": "text",
    "delivered_at": "timestamptz",
    "trigger": "text",
    "attempt_id": "uuid",
    "attempt_trigger": "text",
    "started_at": "timestamptz",
    "duration_ms": "int",
    "request_url": "text",
    "request_headers": "jsonb",
    "response_status": "int",
    "response_headers": "jsonb",
    "response_body": "text",
    "error_kind": "text",
    "error_message": "text",
}
RECORD_COLUMNS = tuple(_RECORD_TYPES)
_RECORD = (
    """
v AS (
    SELECT * FROM json_to_recordset(%(records)s::json) AS v("""
    + ", ".join(f'"{name}" {kind}' for name, kind in _RECORD_TYPES.items())
    + """)
),
cur AS (
    SELECT d.id, d.locked_until IS NOT DISTINCT FROM v.lease AS own
    FROM {delivery} d JOIN v ON v.id = d.id
    WHERE d.id = ANY(%(ids)s::uuid[])
    FOR UPDATE OF d
),
upd AS (
    UPDATE {delivery} d SET
        attempt_count = d.attempt_count + (v.attempt_id IS NOT NULL)::int,
        auto_attempt_count = d.auto_attempt_count
            + (v.attempt_id IS NOT NULL AND v.attempt_trigger = 'auto')::int,
        lease_expiries = CASE WHEN v.attempt_id IS NULL THEN d.lease_expiries ELSE 0 END,
        status = CASE WHEN cur.own THEN v.status ELSE d.status END,
        next_attempt_at = CASE WHEN cur.own THEN v.next_at ELSE d.next_attempt_at END,
        locked_until = CASE WHEN cur.own THEN NULL ELSE d.locked_until END,
        "trigger" = CASE WHEN cur.own THEN v."trigger" ELSE d."trigger" END,
        last_status_code = CASE WHEN cur.own AND v.attempt_id IS NOT NULL
            THEN v.code ELSE d.last_status_code END,
        last_error = CASE WHEN cur.own AND v.attempt_id IS NOT NULL
            THEN v.err ELSE d.last_error END,
        delivered_at = CASE WHEN cur.own THEN COALESCE(v.delivered_at, d.delivered_at)
            ELSE d.delivered_at END,
        updated_at = {now}
    FROM v JOIN cur ON cur.id = v.id
    WHERE d.id = v.id AND d.id = ANY(%(ids)s::uuid[])
    RETURNING d.id, d.attempt_count, cur.own
),
ins AS (
    INSERT INTO {attempt} (id, delivery_id, number, "trigger", started_at, duration_ms,
        request_url, request_headers, response_status, response_headers, response_body,
        error_kind, error_message)
    SELECT v.attempt_id, v.id, upd.attempt_count, v.attempt_trigger, v.started_at,
        v.duration_ms, v.request_url, v.request_headers, v.response_status,
        v.response_headers, v.response_body, v.error_kind, v.error_message
    FROM upd JOIN v ON v.id = upd.id
    WHERE v.attempt_id IS NOT NULL
)"""
)

RECORD = "WITH" + _RECORD + "\nSELECT id, own, attempt_count FROM upd\n"

# RECORD, then CLAIM_NEXT, in one statement and one commit (pgstore.record_and_claim_next).
# Both see the snapshot from before either wrote: the deliveries being recorded are still
# delivering there, so the claim never takes them. RECORD's rows come as one JSON column of
# [id, own, attempt_count] triples, and one row comes even when the webhook is gone.
RECORD_AND_CLAIM_NEXT = (
    "WITH"
    + _RECORD
    + ","
    + _CLAIM_NEXT
    + _CLAIMED_NEXT
    + """,
    (SELECT json_agg(json_build_array(id, own, attempt_count)) FROM upd) AS recorded
FROM (SELECT 1) AS one
LEFT JOIN {webhook} w ON w.id = %(webhook)s
LEFT JOIN claimed ON w.id IS NOT NULL
LEFT JOIN {event} e ON e.id = claimed.event_id
ORDER BY claimed.next_attempt_at
"""
)


@functools.cache
def sql(template: str, durable_claims: bool) -> str:
    return template.format(**names(durable_claims))

#!/usr/bin/env bash
# Cron, daily at 03:00: delete finished webhook delivery history older than
# WEBHOOKS_RETENTION_DAYS through POST /api/admin/webhooks/cleanup, for at most
# WEBHOOKS_CLEANUP_MAX_SECONDS (the answer says "complete": false when that stopped it; the next
# run goes on). Prints one log line; exits non-zero on failure.
#
# Environment: WEBHOOKS_AUTH_KEY (required), WEBHOOKS_BASE_URL (default http://web:8000),
# WEBHOOKS_RETENTION_DAYS (default 30), WEBHOOKS_CLEANUP_MAX_SECONDS (default 300, keep it below
# the timeout), WEBHOOKS_CRON_TIMEOUT_SECONDS (default 600).
set -uo pipefail

exec "$(dirname "$0")/admin-call.sh" webhooks-cleanup \
  "/api/admin/webhooks/cleanup?days=${WEBHOOKS_RETENTION_DAYS:-30}&max_seconds=${WEBHOOKS_CLEANUP_MAX_SECONDS:-300}" \
  "${WEBHOOKS_CRON_TIMEOUT_SECONDS:-600}"

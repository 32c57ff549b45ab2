#!/usr/bin/env bash
# Cron, daily at 03:00: delete webhook delivery history older than WEBHOOKS_RETENTION_DAYS
# through POST /api/admin/webhooks/cleanup. Prints one log line; exits non-zero on failure.
#
# Environment: WEBHOOKS_AUTH_KEY (required), WEBHOOKS_BASE_URL (default http://web:8000),
# WEBHOOKS_RETENTION_DAYS (default 30), WEBHOOKS_CRON_TIMEOUT_SECONDS (default 600).
set -uo pipefail

exec "$(dirname "$0")/admin-call.sh" webhooks-cleanup \
  "/api/admin/webhooks/cleanup?days=${WEBHOOKS_RETENTION_DAYS:-30}" \
  "${WEBHOOKS_CRON_TIMEOUT_SECONDS:-600}"

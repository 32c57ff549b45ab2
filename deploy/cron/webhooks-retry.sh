#!/usr/bin/env bash
# Cron, every 5 minutes: return deliveries stuck in delivering to pending and wake the webhooks
# of overdue pending ones through POST /api/admin/webhooks/retry-stuck. Prints one log line; exits
# non-zero on failure.
#
# Environment: WEBHOOKS_AUTH_KEY (required), WEBHOOKS_BASE_URL (default http://web:8000),
# WEBHOOKS_CRON_TIMEOUT_SECONDS (default 120).
set -uo pipefail

exec "$(dirname "$0")/admin-call.sh" webhooks-retry "/api/admin/webhooks/retry-stuck" \
  "${WEBHOOKS_CRON_TIMEOUT_SECONDS:-120}"

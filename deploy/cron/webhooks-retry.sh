#!/usr/bin/env bash
# Cron, every 5 minutes: return deliveries stuck in delivering to pending and re-kick overdue
# pending ones through POST /api/admin/webhooks/retry-stuck. Prints one log line; exits
# non-zero on failure.
#
# Environment: WEBHOOKS_AUTH_KEY (required), WEBHOOKS_BASE_URL (default http://web:8000),
# WEBHOOKS_CRON_TIMEOUT_SECONDS (default 120).
set -uo pipefail

name="webhooks-retry"
base_url="${WEBHOOKS_BASE_URL:-http://web:8000}"
timeout="${WEBHOOKS_CRON_TIMEOUT_SECONDS:-120}"

log() { printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$*"; }

if [ -z "${WEBHOOKS_AUTH_KEY:-}" ]; then
  log "failed: WEBHOOKS_AUTH_KEY is not set"
  exit 2
fi

# The key goes in through a file descriptor, so it never shows in the process list.
body="$(curl -sS --fail-with-body --connect-timeout 10 --max-time "$timeout" -X POST \
  -H @<(printf 'Authorization: Access %s\n' "$WEBHOOKS_AUTH_KEY") \
  "${base_url%/}/api/admin/webhooks/retry-stuck" 2>&1)"
rc=$?
body="$(printf '%s' "$body" | tr -s '\r\n' ' ' | cut -c1-500)"
if [ "$rc" -ne 0 ]; then
  log "failed (curl exit $rc): $body"
  exit "$rc"
fi
log "ok: $body"

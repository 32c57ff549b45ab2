#!/usr/bin/env bash
# Cron, daily at 03:00: delete webhook delivery history older than WEBHOOKS_RETENTION_DAYS
# through POST /api/admin/webhooks/cleanup. Prints one log line; exits non-zero on failure.
#
# Environment: WEBHOOKS_AUTH_KEY (required), WEBHOOKS_BASE_URL (default http://web:8000),
# WEBHOOKS_RETENTION_DAYS (default 30), WEBHOOKS_CRON_TIMEOUT_SECONDS (default 600).
set -uo pipefail

name="webhooks-cleanup"
base_url="${WEBHOOKS_BASE_URL:-http://web:8000}"
days="${WEBHOOKS_RETENTION_DAYS:-30}"
timeout="${WEBHOOKS_CRON_TIMEOUT_SECONDS:-600}"

log() { printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$*"; }

if [ -z "${WEBHOOKS_AUTH_KEY:-}" ]; then
  log "failed: WEBHOOKS_AUTH_KEY is not set"
  exit 2
fi

# The key goes in through a file descriptor, so it never shows in the process list.
body="$(curl -sS --fail-with-body --connect-timeout 10 --max-time "$timeout" -X POST \
  -H @<(printf 'Authorization: Access %s\n' "$WEBHOOKS_AUTH_KEY") \
  "${base_url%/}/api/admin/webhooks/cleanup?days=${days}" 2>&1)"
rc=$?
body="$(printf '%s' "$body" | tr -s '\r\n' ' ' | cut -c1-500)"
if [ "$rc" -ne 0 ]; then
  log "failed (curl exit $rc): $body"
  exit "$rc"
fi
log "ok: $body"

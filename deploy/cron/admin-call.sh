#!/usr/bin/env bash
# Shared by the cron scripts: POST one /api/admin/webhooks/... endpoint with the service key,
# print one log line, and exit non-zero on failure.
# Usage: admin-call.sh <log name> <path and query> <timeout seconds>
# Environment: WEBHOOKS_AUTH_KEY (required), WEBHOOKS_BASE_URL (default http://web:8000).
set -uo pipefail

name="$1" path="$2" timeout="$3"
base_url="${WEBHOOKS_BASE_URL:-http://web:8000}"

log() { printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$*"; }

if [ -z "${WEBHOOKS_AUTH_KEY:-}" ]; then
  log "failed: WEBHOOKS_AUTH_KEY is not set"
  exit 2
fi

# The key goes in through a file descriptor, so it never shows in the process list.
body="$(curl -sS --fail-with-body --connect-timeout 10 --max-time "$timeout" -X POST \
  -H @<(printf 'Authorization: Access %s\n' "$WEBHOOKS_AUTH_KEY") \
  "${base_url%/}${path}" 2>&1)"
rc=$?
body="$(printf '%s' "$body" | tr -s '\r\n' ' ' | cut -c1-500)"
if [ "$rc" -ne 0 ]; then
  log "failed (curl exit $rc): $body"
  exit "$rc"
fi
log "ok: $body"

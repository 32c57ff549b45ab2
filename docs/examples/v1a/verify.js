// Verify an Agenta webhook's v1a (ed25519) signature with its public key only (node:crypto).
//
// Usage:
//   WEBHOOK_PUBLIC_KEYS="whpk_... [whpk_...]" node verify.js HEADERS_JSON BODY_FILE
//
// WEBHOOK_PUBLIC_KEYS lists the public keys you trust, space-separated: the `public_key` of each
// entry of GET /api/projects/{project_id}/webhooks/{webhook_id}/signing-keys (during a key
// rotation, keep the old one listed until you have the new one). HEADERS_JSON is a JSON object of
// the request headers (any letter case); BODY_FILE holds the raw request body exactly as received.
// Prints "verified" and exits 0 when the delivery is authentic and fresh; exits 1 with the reason
// otherwise (2 on a usage error). Set VERIFY_NOW (unix seconds) to replay a saved delivery.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');

const TOLERANCE_SECONDS = 5 * 60;
const PUBLIC_KEY_PREFIX = 'whpk_';

class InvalidWebhook extends Error {}

// Return a KeyObject for a whpk_ key: the 32 raw bytes, as the JWK's x (base64url).
function publicKey(encoded) {
  const base64 = encoded.startsWith(PUBLIC_KEY_PREFIX) ? encoded.slice(PUBLIC_KEY_PREFIX.length) : encoded;
  const raw = Buffer.from(base64, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || raw.length !== 32) {
    throw new InvalidWebhook(`${encoded} is not whpk_ followed by base64 of 32 bytes`);
  }
  return crypto.createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
}

// Throw InvalidWebhook unless headers carry a fresh v1a signature of body (a Buffer) by a key.
function verify(publicKeys, headers, body, now = Math.floor(Date.now() / 1000)) {
  const lower = {};
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = String(value);
  const msgId = lower['webhook-id'];
  const timestamp = lower['webhook-timestamp'];
  const signatures = lower['webhook-signature'];
  if (!msgId || !timestamp || !signatures) {
    throw new InvalidWebhook('missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  if (!/^\d+$/.test(timestamp)) throw new InvalidWebhook('webhook-timestamp is not unix seconds');
  if (Math.abs(now - Number(timestamp)) > TOLERANCE_SECONDS) {
    throw new InvalidWebhook('webhook-timestamp is more than 5 minutes away from now');
  }
  const keys = publicKeys.map(publicKey);
  const signed = Buffer.concat([Buffer.from(`${msgId}.${timestamp}.`), body]);
  // During a key rotation the header holds a signature by each key, space-separated.
  for (const candidate of signatures.split(' ')) {
    const comma = candidate.indexOf(',');
    if (comma < 0 || candidate.slice(0, comma) !== 'v1a') continue; // v1 is the HMAC one
    const signature = Buffer.from(candidate.slice(comma + 1), 'base64');
    if (signature.length !== 64) continue;
    // ed25519 takes no digest name: null.
    if (keys.some((key) => crypto.verify(null, signed, key, signature))) return;
  }
  throw new InvalidWebhook('no v1a signature matches this body and these public keys');
}

// Verify the delivery saved in argv's files; return the exit status.
function main(argv) {
  const publicKeys = (process.env.WEBHOOK_PUBLIC_KEYS || '').split(/\s+/).filter(Boolean);
  if (argv.length !== 2 || publicKeys.length === 0) {
    console.error('usage: WEBHOOK_PUBLIC_KEYS="whpk_..." node verify.js HEADERS_JSON BODY_FILE');
    return 2;
  }
  const headers = JSON.parse(fs.readFileSync(argv[0], 'utf8'));
  const body = fs.readFileSync(argv[1]); // a Buffer: the raw bytes
  const now = process.env.VERIFY_NOW ? Number(process.env.VERIFY_NOW) : undefined;
  try {
    verify(publicKeys, headers, body, now);
  } catch (err) {
    if (!(err instanceof InvalidWebhook)) throw err;
    console.error(`not verified: ${err.message}`);
    return 1;
  }
  console.log('verified');
  return 0;
}

module.exports = { verify, InvalidWebhook };

if (require.main === module) process.exitCode = main(process.argv.slice(2));

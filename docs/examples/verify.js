// Verify an Agenta webhook delivery with Node.js built-ins only (node:crypto).
//
// Usage:
//   WEBHOOK_SECRET=whsec_... node verify.js HEADERS_JSON BODY_FILE
//
// HEADERS_JSON is a JSON object of the request headers (any letter case); BODY_FILE holds the raw
// request body exactly as received. Prints "verified" and exits 0 when the delivery is authentic
// and fresh; exits 1 with the reason otherwise (2 on a usage error). Set VERIFY_NOW (unix seconds)
// to replay a saved delivery as if it were that time.
//
// In a web handler, verify the RAW body bytes, before any JSON parsing. Express:
//
//   const { verify } = require('./verify');
//
//   app.post('/webhooks/agenta', express.raw({ type: 'application/json' }), (req, res) => {
//     try {
//       verify(process.env.WEBHOOK_SECRET, req.headers, req.body); // req.body is a Buffer here
//     } catch (err) {
//       return res.status(400).send('invalid signature'); // never 410: that disables the webhook
//     }
//     if (seenBefore(req.headers['webhook-id'])) return res.sendStatus(204); // retries repeat it
//     enqueue(JSON.parse(req.body)); // answer within 10 seconds; do slow work elsewhere
//     res.sendStatus(204);
//   });
//
// Mount express.raw on this route before any app-wide express.json(), which would consume the body.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');

const TOLERANCE_SECONDS = 5 * 60;
const SECRET_PREFIX = 'whsec_';

class InvalidWebhook extends Error {}

// Throw InvalidWebhook unless headers carry a fresh v1 signature of body (a Buffer) under secret.
function verify(secret, headers, body, now = Math.floor(Date.now() / 1000)) {
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
  const encodedKey = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encodedKey)) {
    throw new InvalidWebhook('the secret is not whsec_ followed by base64');
  }
  const expected = Buffer.from(
    crypto
      .createHmac('sha256', Buffer.from(encodedKey, 'base64'))
      .update(`${msgId}.${timestamp}.`)
      .update(body)
      .digest('base64'),
  );
  // During a secret rotation the header holds several space-separated signatures.
  for (const candidate of signatures.split(' ')) {
    const comma = candidate.indexOf(',');
    const version = candidate.slice(0, comma);
    const signature = Buffer.from(candidate.slice(comma + 1));
    // timingSafeEqual takes as long whatever the bytes (it needs equal lengths, checked first).
    if (
      comma > 0 &&
      version === 'v1' &&
      signature.length === expected.length &&
      crypto.timingSafeEqual(signature, expected)
    ) {
      return;
    }
  }
  throw new InvalidWebhook('no signature matches this body and secret');
}

// Verify the delivery saved in argv's files; return the exit status.
function main(argv) {
  const secret = process.env.WEBHOOK_SECRET || '';
  if (argv.length !== 2 || !secret) {
    console.error('usage: WEBHOOK_SECRET=whsec_... node verify.js HEADERS_JSON BODY_FILE');
    return 2;
  }
  const headers = JSON.parse(fs.readFileSync(argv[0], 'utf8'));
  const body = fs.readFileSync(argv[1]); // a Buffer: the raw bytes
  const now = process.env.VERIFY_NOW ? Number(process.env.VERIFY_NOW) : undefined;
  try {
    verify(secret, headers, body, now);
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

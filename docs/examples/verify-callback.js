const { createHmac, timingSafeEqual } = require('node:crypto');

// true when an Omni delivery callback is authentic and fresh; rawBody = the exact bytes received
function verifyOmniCallback(secret, headers, rawBody, maxAgeSeconds = 300, nowMs = Date.now()) {
  const ts = String(headers['x-omni-timestamp'] ?? '');
  if (!/^\d+$/.test(ts) || Math.abs(nowMs / 1000 - Number(ts)) > maxAgeSeconds) return false;
  const expected = Buffer.from('v1=' + createHmac('sha256', secret).update(ts + '.' + rawBody).digest('hex'));
  const given = Buffer.from(String(headers['x-omni-signature'] ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

module.exports = { verifyOmniCallback };

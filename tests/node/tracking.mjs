// node-redis v5 client-side caching against a server on 127.0.0.1:$REDIS_PORT: a RESP3
// client with `clientSideCache` (CLIENT TRACKING on, invalidation pushes) serves
// repeated GETs from its cache and drops an entry when another client writes it; a
// second RESP3 client with `emitInvalidate` sees the invalidated keys, the null of a
// FLUSHALL, and BCAST prefix invalidations. Prints a summary line and exits 0 only when
// every check passed; gives up after $TRACKING_TIMEOUT_MS (default 20 s).
import { createClient } from 'redis';

const port = Number(process.env.REDIS_PORT || 6379);
const timeoutMs = Number(process.env.TRACKING_TIMEOUT_MS || 20000);
const socket = { host: '127.0.0.1', port };

let passed = 0;
let failed = 0;
function check(what, ok, detail = '') {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL ${what} ${detail}`);
  }
}

const timer = setTimeout(() => {
  console.error(`FAIL timeout after ${timeoutMs} ms (${passed} passed, ${failed} failed so far)`);
  process.exit(1);
}, timeoutMs);

// Resolves when `pred` holds, polling; false after `ms`.
async function until(pred, ms = 3000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return pred();
}

const common = { socket, RESP: 3, maintNotifications: 'disabled' };
const cached = createClient({ ...common, clientSideCache: { ttl: 0, maxEntries: 0 } });
const events = createClient({ ...common, emitInvalidate: true });
const bcast = createClient({ ...common, emitInvalidate: true });
const writer = createClient({ socket });
for (const c of [cached, events, bcast, writer]) {
  c.on('error', (e) => console.error('client error:', e.message));
}

try {
  await Promise.all([cached.connect(), events.connect(), bcast.connect(), writer.connect()]);
  const csc = cached.clientSideCache;
  const cacheInvalidations = [];
  csc.on('invalidate', (key) => cacheInvalidations.push(key === null ? null : key.toString()));
  const seen = [];
  events.on('invalidate', (key) => seen.push(key === null ? null : key.toString()));
  const bseen = [];
  bcast.on('invalidate', (key) => bseen.push(key === null ? null : key.toString()));

  const info = await cached.sendCommand(['CLIENT', 'TRACKINGINFO']);
  check('tracking is on for the caching client', JSON.stringify(info).includes('"on"'), JSON.stringify(info));
  // emitInvalidate turned default tracking on; switching to BCAST takes an OFF first.
  await bcast.sendCommand(['CLIENT', 'TRACKING', 'OFF']);
  await bcast.sendCommand(['CLIENT', 'TRACKING', 'ON', 'BCAST', 'PREFIX', 'user:']);

  await writer.set('k', 'v1');
  check('first GET reads the server', (await cached.get('k')) === 'v1');
  check('second GET too (same value)', (await cached.get('k')) === 'v1');
  let stats = csc.stats();
  check('the second GET is a cache hit', stats.hitCount === 1 && stats.missCount === 1, JSON.stringify(stats));

  await events.get('k');
  await writer.set('k', 'v2');
  check('the cache is told', await until(() => cacheInvalidations.includes('k')), JSON.stringify(cacheInvalidations));
  check('the other tracking client is told', await until(() => seen.includes('k')), JSON.stringify(seen));
  check('after the invalidation GET reads the new value', (await cached.get('k')) === 'v2');
  stats = csc.stats();
  check('that GET was a miss', stats.missCount === 2, JSON.stringify(stats));

  // A hash read through the cache is invalidated by HSET.
  await writer.hSet('h', 'f', '1');
  check('HGET', (await cached.hGet('h', 'f')) === '1');
  check('HGET cached', (await cached.hGet('h', 'f')) === '1' && csc.stats().hitCount === 2);
  await writer.hSet('h', 'f', '2');
  check('HSET invalidates h', await until(() => cacheInvalidations.includes('h')));
  check('HGET sees 2', (await cached.hGet('h', 'f')) === '2');

  // BCAST: every key under the prefix, none outside it.
  await writer.mSet({ 'user:1': 'a', 'other:1': 'b', 'user:2': 'c' });
  check('BCAST sees user:1 and user:2', await until(() => bseen.includes('user:1') && bseen.includes('user:2')), JSON.stringify(bseen));
  check('BCAST does not see other:1', !bseen.includes('other:1'), JSON.stringify(bseen));

  // FLUSHALL: "every key".
  await events.get('k');
  await writer.flushAll();
  check('FLUSHALL invalidates everything (null)', await until(() => seen.includes(null) && cacheInvalidations.includes(null)), JSON.stringify(seen));
  check('the cache is empty after FLUSHALL', (await cached.get('k')) === null);

  const tracking = (await writer.info('clients')).match(/tracking_clients:(\d+)/);
  check('INFO tracking_clients', tracking && Number(tracking[1]) === 3, tracking && tracking[0]);
} catch (e) {
  failed++;
  console.error('FAIL exception:', e && e.stack ? e.stack : e);
}

clearTimeout(timer);
await Promise.allSettled([cached.quit(), events.quit(), bcast.quit(), writer.quit()]);
console.log(`tracking: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

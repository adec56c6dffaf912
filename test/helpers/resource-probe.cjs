/**
 * Loaded into a function process with `node --require` by the load test: on SIGUSR2 it writes one
 * stderr line `resource-probe {...}` with the counts of the process's active handles and requests
 * (timers, sockets, servers), so leaks can be seen from outside without changing the function.
 */
'use strict';
process.on('SIGUSR2', () => {
  // With --expose-gc, collect first so heapUsed compares live objects, not garbage not yet collected.
  if (typeof global.gc === 'function') global.gc();
  const counts = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] || 0) + 1;
  const mem = process.memoryUsage();
  process.stderr.write(`resource-probe ${JSON.stringify({ counts, heapUsed: mem.heapUsed, rss: mem.rss })}\n`);
});

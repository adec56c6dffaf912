// Preloaded by scripts/bench/profile.ts: a clean exit on SIGTERM so --cpu-prof/--heap-prof files are written.
process.on('SIGTERM', () => process.exit(0));

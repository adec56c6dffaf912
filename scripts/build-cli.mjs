// Bundles the prom2oci CLI into dist/cli.js (run by bin/prom2oci.js) and copies the explorer page
// next to it (dist/explorer/), so the installed command needs neither tsx nor the sources.
// The OCI SDK stays external, as in the function bundle (required lazily at first use).
import { cpSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  external: ['oci-common', 'oci-monitoring', 'oci-secrets', 'oci-core', 'oci-identity'],
  legalComments: 'none',
  logLevel: 'warning',
});
cpSync('src/local/emulator/explorer', 'dist/explorer', { recursive: true, filter: (src) => !src.endsWith('.ts') });

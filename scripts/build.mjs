// Bundles the function into dist/func.js. The OCI SDK packages stay external: they are required
// lazily at first use (see src/oci/clients.ts) and load from node_modules in the image.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/func.ts'],
  outfile: 'dist/func.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  external: ['oci-common', 'oci-monitoring', 'oci-secrets'],
  legalComments: 'none',
  logLevel: 'warning',
});

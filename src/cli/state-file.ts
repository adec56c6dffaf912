/** A state file (`prom2oci once --state-file PATH`): versions are content hashes, writes are atomic renames. */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { StateError } from '../state/errors';
import type { BlobBackend } from '../state/store';

/** The version of some bytes. */
function etagOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A backend over one file; a missing file is no state yet. */
export function fileBackend(path: string): BlobBackend {
  const where = `file ${path}`;
  const read = async () => {
    try {
      const bytes = await readFile(path);
      return { bytes, etag: etagOf(bytes) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StateError('unavailable', `cannot read the state ${where}: ${(e as Error).message}`);
    }
  };
  return {
    where,
    get: read,
    async put(bytes, expectedEtag) {
      const current = await read();
      if (current?.etag !== expectedEtag) return false;
      const tmp = `${path}.${process.pid}.tmp`;
      try {
        await writeFile(tmp, bytes);
        await rename(tmp, path);
      } catch (e) {
        throw new StateError('unavailable', `cannot write the state ${where}: ${(e as Error).message}`);
      }
      return etagOf(bytes);
    },
  };
}

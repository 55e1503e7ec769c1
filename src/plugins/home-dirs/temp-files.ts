import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { syncPath } from '../../common/file-writer';

/** Names the sync writes on disk for its own work; listings hide them, reconciliation removes stale ones. */
export const TEMP_PREFIX = '.strata-';

/** A fresh temp name in `target`'s directory (same filesystem, so a rename can put it in place). */
export function tempBeside(target: string, purpose: string): string {
  return path.join(path.dirname(target), `${TEMP_PREFIX}${purpose}-${randomBytes(8).toString('hex')}`);
}

/**
 * Renames `temp` (already synced by the caller) over `target` and syncs the directory, so the new
 * name survives a power loss once this resolves. Atomic: readers see the old file or the new one.
 * The old file keeps a second name until the rename is done and is unlinked afterwards, without
 * waiting: freeing a large file's blocks takes the filesystem a while (140 ms for 512 MiB on ext4
 * here), and the caller's answer need not wait for it. A crash in between leaves a temp name that
 * reconciliation removes; a failed rename removes `temp`.
 */
export async function renameOver(temp: string, target: string): Promise<void> {
  const old = tempBeside(target, 'old');
  const kept = await fs.link(target, old).then(
    () => true,
    () => false, // nothing there (or not a file): the rename frees nothing
  );
  try {
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => {});
    throw err;
  } finally {
    if (kept) void fs.unlink(old).catch(() => {});
  }
  await syncPath(path.dirname(target));
}

/** Writes `source` to a temp file beside `target`, syncs it and renames it over `target`; on failure nothing is left but what was there. */
export async function placeStream(source: Readable, target: string, purpose: string): Promise<void> {
  const temp = tempBeside(target, purpose);
  try {
    await pipeline(source, createWriteStream(temp, { flags: 'wx' }));
    await syncPath(temp);
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => {});
    throw err;
  }
  await renameOver(temp, target);
}

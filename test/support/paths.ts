import { homedir } from 'node:os';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../..');

/** The same cache directory the server uses by default, so tests reuse its Maven build. */
export function testCacheDir(): string {
  return process.env.CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'strata');
}

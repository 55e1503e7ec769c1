import { rmSync } from 'node:fs';
import type { DatabaseHandle } from '../../src/modules/database/database-process';

export default async function globalTeardown(): Promise<void> {
  const handle = (globalThis as { __testDatabase?: DatabaseHandle }).__testDatabase;
  await handle?.stop();
  if (process.env.TEST_DB_DATA_DIR) rmSync(process.env.TEST_DB_DATA_DIR, { recursive: true, force: true });
}

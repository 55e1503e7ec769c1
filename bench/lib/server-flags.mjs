import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The Node flags `npm start` runs the server with (package.json `config.nodeFlags`), so a benchmark measures the server as it is run. */
export function serverNodeFlags(repoRoot) {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  return String(pkg.config?.nodeFlags ?? '').split(/\s+/).filter(Boolean);
}

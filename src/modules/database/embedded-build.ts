import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Where the Maven module of the embedded server lives in the repository. */
export const EMBEDDED_SERVER_SOURCE = path.resolve(__dirname, '../../../src/modules/database/embedded-server');

export interface EmbeddedServerBuild {
  /** Directory holding `strata-embedded-db.jar` and `lib/`. */
  dir: string;
  classpath: string;
}

/**
 * Builds the embedded database server with Maven unless a build of the same sources is already in
 * the cache. The cache key is a hash of the pom and the Java sources, so an edited module is rebuilt
 * and an unchanged one starts without Maven (and without network).
 */
export async function ensureEmbeddedServerBuilt(
  cacheDir: string,
  log: (line: string) => void,
): Promise<EmbeddedServerBuild> {
  const key = await hashSources(EMBEDDED_SERVER_SOURCE);
  const dir = path.join(cacheDir, 'embedded-db', key);
  const build = { dir, classpath: [path.join(dir, 'strata-embedded-db.jar'), path.join(dir, 'lib', '*')].join(path.delimiter) };
  if (existsSync(path.join(dir, 'BUILT'))) return build;

  // Build into a private directory and rename it into place, so two first starts cannot mix builds.
  await fs.mkdir(path.dirname(dir), { recursive: true });
  const staging = `${dir}.building-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  log(`building the embedded database server with Maven (first start only) into ${dir}`);
  await runMaven(['-B', '-f', path.join(EMBEDDED_SERVER_SOURCE, 'pom.xml'), `-DbuildDir=${staging}`, 'package'], log);
  await fs.writeFile(path.join(staging, 'BUILT'), new Date().toISOString());
  try {
    await fs.rename(staging, dir);
  } catch (err) {
    // another process finished the same build first
    if (!existsSync(path.join(dir, 'BUILT'))) throw err;
    await fs.rm(staging, { recursive: true, force: true });
  }
  return build;
}

async function hashSources(root: string): Promise<string> {
  const hash = createHash('sha256');
  const files = (await listFiles(root)).filter((f) => f.endsWith('.java') || f.endsWith('pom.xml') || f.includes('/resources/'));
  for (const file of files.sort()) {
    hash.update(path.relative(root, file));
    hash.update(await fs.readFile(file));
  }
  return hash.digest('hex').slice(0, 16);
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'target') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else out.push(full);
  }
  return out;
}

function runMaven(args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.MAVEN_CMD ?? 'mvn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        // show progress (downloads, phases) without Maven's full chatter
        if (/Download(ed|ing) from|BUILD|ERROR|Building /.test(line)) log(`maven: ${line.replace(/\u001b\[[0-9;]*m/g, '')}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) =>
      reject(new Error(`could not run Maven (${err.message}); install Maven 3 and Java 17+, or set MONGO_URI`)),
    );
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`Maven build of the embedded database failed:\n${tail.join('\n')}`)),
    );
  });
}

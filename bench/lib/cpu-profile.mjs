// Summaries of a V8 CPU profile (`node --cpu-prof`) for the benchmarks: the busiest functions and
// the busiest areas (a package, a node: module, a file of dist/), self and total time.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

function shortUrl(url) {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 14);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}
function areaOf(frame) {
  const url = frame.url ?? '';
  if (!url) return frame.functionName ? `(${frame.functionName.replace(/^\(|\)$/g, '')})` : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, url.includes('internal/') ? 2 : 1).join('/')}`;
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url;
}

export function summarizeProfile(dir) {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f)) : [];
  if (!files.length) return null;
  const file = files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map();
  for (let i = 0; i < prof.samples.length; i++) selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  let busy = 0;
  const fnSelf = new Map();
  const areaSelf = new Map();
  const areaTotal = new Map();
  for (const [id, us] of selfUs) {
    const n = nodes.get(id);
    if (n.callFrame.functionName === '(idle)') continue;
    busy += us;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
    areaSelf.set(areaOf(f), (areaSelf.get(areaOf(f)) ?? 0) + us);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const a = areaOf(nodes.get(cur).callFrame);
      if (a === '(root)' || seen.has(a)) continue;
      seen.add(a);
      areaTotal.set(a, (areaTotal.get(a) ?? 0) + us);
    }
  }
  const top = (m, k) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k);
  return { file, busyMs: busy / 1000, fnSelf: top(fnSelf, 25), areaSelf: top(areaSelf, 15), areaTotal: top(areaTotal, 15) };
}

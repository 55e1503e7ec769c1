/**
 * Data and indexes survive a SIGKILL of the Java process. H2 saves its maps one after another, so
 * a kill can leave a document saved without its index entries; the server notices that it did not
 * shut down cleanly and rebuilds every index from the documents before it accepts clients. Each
 * restart is checked by comparing index answers with a scan of the same collection.
 */
import { Collection, Document, ObjectId } from 'mongodb';
import { EmbeddedServer, Random, canonical, scanOf, sleep, suiteSeed, waitForStoreFlush } from './support';

const seed = suiteSeed();
const rnd = new Random(seed);
const FOLDERS = Array.from({ length: 12 }, () => new ObjectId());
const USERS = Array.from({ length: 6 }, () => new ObjectId());

async function declare(c: Collection): Promise<void> {
  await c.createIndex({ folderId: 1, lowerName: 1 }, { unique: true });
  await c.createIndex({ folderId: 1 });
  await c.createIndex({ 'access.users.id': 1 });
  await c.createIndex({ updated: -1 });
}

let made = 0;
function item(): Document {
  made++;
  return {
    folderId: rnd.pick(FOLDERS),
    lowerName: `item ${made}`,
    access: { users: rnd.subset(USERS, 3).map((id) => ({ id, level: rnd.int(3) })) },
    updated: new Date(Date.UTC(2026, 0, 1, 0, 0, rnd.int(1000))),
    size: rnd.int(100),
  };
}

/** Index answers equal scan answers; every document is found by _id and by its unique key. */
async function consistent(c: Collection): Promise<number> {
  const all = await c.find({}).toArray();
  const queries: Document[] = [
    ...FOLDERS.map((folderId) => ({ folderId })),
    ...USERS.map((id) => ({ 'access.users.id': id })),
    { updated: { $gt: new Date(Date.UTC(2026, 0, 1, 0, 0, 500)) } },
    { folderId: FOLDERS[0], lowerName: { $gte: 'item 5' } },
  ];
  for (const q of queries) {
    const [page, scanPage] = await Promise.all([
      c.find(q).sort({ lowerName: 1 }).limit(25).toArray(),
      c.find(scanOf(q)).sort({ lowerName: 1 }).limit(25).toArray(),
    ]);
    expect({ q: canonical(q), page: canonical(page) }).toEqual({ q: canonical(q), page: canonical(scanPage) });
    const [found, scanned] = await Promise.all([c.find(q).toArray(), c.find(scanOf(q)).toArray()]);
    expect({ q: canonical(q), found: canonical(found) }).toEqual({ q: canonical(q), found: canonical(scanned) });
    expect({ q: canonical(q), n: await c.countDocuments(q) }).toEqual({ q: canonical(q), n: scanned.length });
  }
  const byId = await Promise.all(all.map((d) => c.findOne({ _id: d._id })));
  expect(byId.map((d) => d?._id.toHexString())).toEqual(all.map((d) => d._id.toHexString()));
  const byKey = await Promise.all(all.map((d) => c.findOne({ folderId: d.folderId, lowerName: d.lowerName })));
  expect(byKey.map((d) => d?._id.toHexString())).toEqual(all.map((d) => d._id.toHexString()));
  if (all.length) {
    // the unique index still refuses an existing key
    await expect(c.insertOne({ folderId: all[0].folderId, lowerName: all[0].lowerName })).rejects.toMatchObject({ code: 11000 });
  }
  return all.length;
}

describe(`embedded database after SIGKILL (SEED=${seed})`, () => {
  const server = new EmbeddedServer('strata-kill-');
  const collection = () => server.client!.db('kill').collection('items');

  beforeAll(async () => {
    await server.start();
    await declare(collection());
  }, 120_000);

  afterAll(async () => {
    await server.dispose();
  });

  it('keeps every acknowledged write, and its indexes, once the store has been flushed', async () => {
    const docs = Array.from({ length: 1000 }, () => item());
    await collection().insertMany(docs);
    await collection().updateMany({ folderId: FOLDERS[1] }, { $set: { folderId: FOLDERS[2] } });
    await collection().deleteMany({ size: { $lt: 10 } });
    const expected = canonical(await collection().find({}).toArray());
    await waitForStoreFlush(server.dataDir);
    await server.kill();
    await server.start();
    expect(canonical(await collection().find({}).toArray())).toBe(expected);
    await consistent(collection());
  }, 120_000);

  it('rebuilds consistent indexes after a kill in the middle of writes', async () => {
    for (let round = 0; round < 2; round++) {
      let stop = false;
      const writers = Array.from({ length: 6 }, async () => {
        const c = collection();
        while (!stop) {
          const op = rnd.int(5);
          try {
            if (op === 0) await c.insertMany(Array.from({ length: 20 }, () => item()));
            else if (op === 1) await c.updateMany({ folderId: rnd.pick(FOLDERS) }, { $set: { updated: new Date() }, $inc: { size: 1 } });
            else if (op === 2) await c.updateOne({ folderId: rnd.pick(FOLDERS) }, { $set: { folderId: rnd.pick(FOLDERS), lowerName: `moved ${made++}` } });
            else if (op === 3) await c.updateMany({ 'access.users.id': rnd.pick(USERS) }, { $push: { 'access.users': { id: rnd.pick(USERS), level: 1 } } });
            else await c.deleteMany({ size: rnd.int(100) });
          } catch {
            return; // the server went away
          }
        }
      });
      await sleep(800 + rnd.int(800));
      await server.kill();
      stop = true;
      await Promise.all(writers);
      await server.start();
      const n = await consistent(collection());
      expect(n).toBeGreaterThan(0);
    }
  }, 120_000);
});

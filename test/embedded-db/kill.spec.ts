/**
 * Data and indexes survive a SIGKILL of the Java process. H2 saves its maps one after another, so
 * a kill can leave a document saved without its index entries; the server notices that it did not
 * shut down cleanly and rebuilds every index from the documents before it accepts clients. Each
 * restart is checked by comparing index answers with a scan of the same collection.
 */
import { Collection, Document, Double, Int32, Long, MongoClient, ObjectId, WithId } from 'mongodb';
import { EmbeddedServer, Random, canonical, launchServer, scanOf, sleep, suiteSeed, waitForStoreFlush, withStockServer } from './support';

const seed = suiteSeed();
const rnd = new Random(seed);
const FOLDERS = Array.from({ length: 12 }, () => new ObjectId());
const USERS = Array.from({ length: 6 }, () => new ObjectId());

/**
 * The _id of a document: the driver's ObjectId for item(), every kind the library accepts as a key
 * for mixed(); the driver reads Int32, Long and Double values back as numbers.
 */
type ItemId = ObjectId | string | number | Int32 | Long | Double | Date | { k: number; t: string };

/** A document of the `items` collections, as item() and mixed() make it; a duplicate insert has only its key. */
interface ItemDoc {
  _id?: ItemId;
  folderId?: ObjectId;
  lowerName: string;
  access?: { users: Array<{ id: ObjectId; level: number }> };
  updated?: Date;
  size?: number;
}

async function declare(c: Collection<ItemDoc>): Promise<void> {
  await c.createIndex({ folderId: 1, lowerName: 1 }, { unique: true });
  await c.createIndex({ folderId: 1 });
  await c.createIndex({ 'access.users.id': 1 });
  await c.createIndex({ updated: -1 });
}

let made = 0;
function item(): ItemDoc {
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
async function consistent(c: Collection<ItemDoc>): Promise<number> {
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
  // every document while they are few, a tenth of them beyond
  const sample = all.length <= 3000 ? all : all.filter((_, i) => i % 10 === 0);
  const byId = await Promise.all(sample.map((d) => c.findOne({ _id: d._id })));
  expect(byId.map((d) => canonical(d?._id))).toEqual(sample.map((d) => canonical(d._id)));
  const byKey = await Promise.all(sample.map((d) => c.findOne({ folderId: d.folderId, lowerName: d.lowerName })));
  expect(byKey.map((d) => canonical(d?._id))).toEqual(sample.map((d) => canonical(d._id)));
  if (all.length) {
    // the unique index still refuses an existing key
    await expect(c.insertOne({ folderId: all[0].folderId, lowerName: all[0].lowerName })).rejects.toMatchObject({ code: 11000 });
  }
  return all.length;
}

describe(`embedded database after SIGKILL (SEED=${seed})`, () => {
  const server = new EmbeddedServer('strata-kill-');
  const collection = () => server.client!.db('kill').collection<ItemDoc>('items');

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

/**
 * The _id index was the library's own map before; it is now an ordered index of the extension.
 * A store written with the library's _id map (by stock mongo-java-server, as by the earlier build)
 * gets its _id index filled from the documents at first open. Filling indexes at start is itself
 * exposed to a kill: H2 may save a half-filled map, which the next start must not take for a
 * complete one.
 */
describe(`embedded database: _id index of an older store, and kills while indexes are filled (SEED=${seed})`, () => {
  const server = new EmbeddedServer('strata-kill-ids-');
  const collection = () => server.client!.db('ids').collection<ItemDoc>('items');
  let next = 0;

  /** Documents with every kind of _id the library accepts as a key (numbers of three types, strings, subdocuments, dates). */
  function mixed(n: number): ItemDoc[] {
    return Array.from({ length: n }, () => {
      const i = next++;
      const ids = [
        () => new ObjectId(),
        () => `s-${i}`,
        () => new Int32(i),
        () => Long.fromNumber(i),
        () => new Double(i + 0.5),
        () => ({ k: i, t: 'x' }),
        () => new Date(Date.UTC(2020, 0, 1) + i * 1000),
      ];
      return { _id: ids[i % ids.length](), folderId: rnd.pick(FOLDERS), lowerName: `m ${i}`, size: rnd.int(100) };
    });
  }

  /** Every document is found by _id (alone, in $in, counted), an existing _id is refused, and _id pages match a scan. */
  async function idsIntact(c: Collection<ItemDoc>, expected?: WithId<ItemDoc>[]): Promise<WithId<ItemDoc>[]> {
    const all = await c.find({}).toArray();
    if (expected) expect(canonical(all)).toBe(canonical(expected));
    for (let i = 0; i < all.length; i += 100) {
      const batch = all.slice(i, i + 100);
      // every document alone while they are few, a tenth of them beyond
      const sample = all.length <= 3000 ? batch : batch.filter((_, k) => k % 10 === 0);
      const one = await Promise.all(sample.map((d) => c.findOne({ _id: d._id })));
      expect(canonical(one)).toBe(canonical(sample));
      // (the library answers an _id $in in the order of the values)
      const byIn = await c.find({ _id: { $in: batch.map((d) => d._id) } }).toArray();
      expect(byIn.map((d) => canonical(d)).sort()).toEqual(batch.map((d) => canonical(d)).sort());
      expect(await c.countDocuments({ _id: batch[0]._id })).toBe(1);
    }
    for (const d of all.slice(0, 14)) {
      await expect(c.insertOne({ _id: d._id, lowerName: `dup ${next++}` })).rejects.toMatchObject({ code: 11000 });
    }
    const int = all.find((d) => d._id instanceof Int32 || typeof d._id === 'number');
    if (int) await expect(c.insertOne({ _id: new Double(Number(int._id)), lowerName: `dup ${next++}` })).rejects.toMatchObject({ code: 11000 });
    const q = { _id: { $gte: new ObjectId('000000000000000000000000') } };
    for (const dir of [1, -1] as const) {
      expect(canonical(await c.find(q).sort({ _id: dir }).skip(3).limit(10).toArray())).toBe(
        canonical(await c.find(scanOf(q)).sort({ _id: dir }).skip(3).limit(10).toArray()),
      );
    }
    return all;
  }

  afterAll(async () => {
    await server.dispose();
  });

  it('a store with the library\'s own _id index is indexed at first open, and stays so after SIGKILL during writes', async () => {
    const docs = mixed(700);
    await withStockServer(server.dataDir, async (uri) => {
      const client = await MongoClient.connect(uri);
      try {
        // The stock library, which only writes this fixture, once failed the insert in CI with
        // H2's "Can not compare" on its mixed-type _id map (not reproduced with the same seed):
        // the fixture is written again from scratch, at most three times.
        for (let attempt = 1; ; attempt++) {
          try {
            await client.db('ids').dropDatabase();
            await declare(client.db('ids').collection<ItemDoc>('items'));
            await client.db('ids').collection<ItemDoc>('items').insertMany(docs);
            break;
          } catch (err) {
            if (attempt >= 3 || !/Can not compare/.test(String((err as Error).message))) throw err;
          }
        }
      } finally {
        await client.close();
      }
    });
    await server.start();
    const before = await idsIntact(collection());
    expect(before).toHaveLength(700);
    await consistent(collection());
    await server.restart();
    await idsIntact(collection(), before);

    let stop = false;
    const writers = Array.from({ length: 4 }, async () => {
      const c = collection();
      while (!stop) {
        try {
          await c.insertMany(mixed(10));
          await c.deleteOne({ _id: (await c.findOne({ size: rnd.int(100) }))?._id ?? 'none' });
          await c.updateMany({ folderId: rnd.pick(FOLDERS) }, { $inc: { size: 1 } });
        } catch {
          return; // the server went away
        }
      }
    });
    await sleep(700 + rnd.int(700));
    await server.kill();
    stop = true;
    await Promise.all(writers);
    await server.start();
    await idsIntact(collection());
    await consistent(collection());
  }, 180_000);

  it('a kill while indexes are filled at start leads to a full rebuild at the next start', async () => {
    if (!server.client) {
      // run on its own (jest -t)
      await server.start();
      await declare(collection());
    }
    // enough documents that filling the indexes takes a while
    for (let i = 0; i < 4; i++) await collection().insertMany(Array.from({ length: 2000 }, () => item()));
    const expected = await collection().find({}).toArray();
    await server.stop();

    // how long a fill takes here (-Dstrata.rebuildIndexes refills every index, as a first open of an older store does)
    const timed = await launchServer(server.dataDir, { properties: ['strata.rebuildIndexes=true'] });
    await timed.ready;
    await timed.stop();
    const took = Number(/built \d+ index\(es\) from \d+ documents in (\d+) ms/.exec(timed.output())?.[1]);
    expect(took).toBeGreaterThan(0);

    // the same fill, killed part-way (H2 has saved part of the new maps by then); tried again
    // sooner if this machine finished the fill before the kill
    let killedDuringFill = false;
    for (let attempt = 1; attempt <= 3 && !killedDuringFill; attempt++) {
      const killed = await launchServer(server.dataDir, { properties: ['strata.rebuildIndexes=true'] });
      const end = Date.now() + 60_000;
      while (!/rebuilding the indexes/.test(killed.output()) && Date.now() < end) await sleep(10);
      await sleep(Math.max(200, took / (3 * attempt)));
      await killed.kill();
      killedDuringFill = !/READY/.test(killed.output());
    }
    expect(killedDuringFill).toBe(true);

    await server.start();
    await idsIntact(collection(), expected);
    await consistent(collection());
  }, 300_000);
});

/**
 * Indexes stay exact through renameCollection (within and across databases), drop, dropIndex,
 * createIndex over existing documents, and restarts; counts and $match aggregations answer what
 * a scan answers. (Stock mongo-java-server loses a renamed collection at the next restart, and a
 * new collection under the old name inherits the old index entries: both are checked here.)
 */
import { Collection, Db, Document, Long, MongoClient, MongoServerError, ObjectId, WithId } from 'mongodb';
import { EmbeddedServer, canonical, indexUsage, scanOf, withStockServer } from './support';

const FOLDERS = Array.from({ length: 8 }, () => new ObjectId());

/** An item as items() makes it (with its _id). Some tests also insert partial ones: a duplicate key alone, `{ size: 1 }`. */
interface ItemDoc {
  folderId: ObjectId;
  name: string;
  lowerName: string;
  tags: string[];
  size: number;
}

function items(n: number, start = 0): WithId<ItemDoc>[] {
  return Array.from({ length: n }, (_, k) => {
    const i = start + k;
    return {
      _id: new ObjectId(),
      folderId: FOLDERS[i % FOLDERS.length],
      name: `Item ${i}`,
      lowerName: `item ${String(i).padStart(4, '0')}`,
      tags: i % 3 ? ['t' + (i % 4), 't' + (i % 5)] : [],
      size: i % 7,
    };
  });
}

async function declare(collection: Collection): Promise<void> {
  await collection.createIndex({ folderId: 1, lowerName: 1 }, { unique: true });
  await collection.createIndex({ folderId: 1 });
  await collection.createIndex({ tags: 1 });
}

/** Pages, counts and aggregations of the given queries, from the indexes and from a scan. */
async function sameAsScan(collection: Collection, queries: Document[]): Promise<void> {
  for (const q of queries) {
    const pairs: Array<[unknown, unknown]> = await Promise.all([
      Promise.all([collection.find(q).sort({ lowerName: 1 }).limit(20).toArray(), collection.find(scanOf(q)).sort({ lowerName: 1 }).limit(20).toArray()]),
      Promise.all([
        collection.find(q).sort({ lowerName: -1 }).skip(7).limit(10).toArray(),
        collection.find(scanOf(q)).sort({ lowerName: -1 }).skip(7).limit(10).toArray(),
      ]),
      Promise.all([collection.find(q).toArray(), collection.find(scanOf(q)).toArray()]),
      Promise.all([collection.countDocuments(q), collection.countDocuments(scanOf(q))]),
      Promise.all([collection.aggregate([{ $match: q }]).toArray(), collection.aggregate([{ $match: scanOf(q) }]).toArray()]),
    ]);
    for (const [indexed, scanned] of pairs) expect({ q: canonical(q), answer: canonical(indexed) }).toEqual({ q: canonical(q), answer: canonical(scanned) });
  }
}

const folderQueries = () => [
  ...FOLDERS.map((folderId) => ({ folderId })),
  { folderId: FOLDERS[1], lowerName: { $gt: 'item 0100' } },
  { tags: 't1' },
  { tags: { $in: ['t2', 't3'] }, folderId: FOLDERS[2] },
];

describe('embedded database collections', () => {
  const server = new EmbeddedServer('strata-coll-');
  let db: Db;

  beforeAll(async () => {
    await server.start();
    db = server.client!.db('coll');
  }, 120_000);

  afterAll(async () => {
    await server.dispose();
  });

  it('renameCollection keeps documents and indexes, also after a restart; the old name starts empty', async () => {
    const original = items(200);
    await declare(db.collection('items'));
    await db.collection('items').insertMany(original);
    await db.collection('items').rename('renamed');
    await sameAsScan(db.collection('renamed'), folderQueries());

    await server.restart();
    db = server.client!.db('coll');
    const renamed = db.collection('renamed');
    expect(await renamed.countDocuments({})).toBe(200);
    expect((await db.listCollections().toArray()).map((c) => c.name).sort()).toEqual(['renamed']);
    expect((await renamed.listIndexes().toArray()).map((i) => i.name).sort()).toEqual(['_id_', 'folderId_1', 'folderId_1_lowerName_1', 'tags_1']);
    await sameAsScan(renamed, folderQueries());
    await expect(renamed.insertOne({ folderId: original[5].folderId, lowerName: original[5].lowerName })).rejects.toMatchObject({ code: 11000 });
    const usage = await indexUsage(renamed);
    expect(usage.tags_1).toBeGreaterThan(0);

    // a new collection under the old name: nothing of the old one (documents, index entries) remains
    const fresh = db.collection('items');
    await declare(fresh);
    await fresh.insertOne({ ...original[0] });
    expect(await fresh.find({}).toArray()).toEqual([original[0]]);
    expect(await fresh.countDocuments({ folderId: original[1].folderId })).toBe(0);
    await sameAsScan(fresh, folderQueries());

    await server.restart();
    db = server.client!.db('coll');
    expect(await db.collection('items').countDocuments({})).toBe(1);
    expect(await db.collection('renamed').countDocuments({})).toBe(200);
    await sameAsScan(db.collection('items'), folderQueries());
    await sameAsScan(db.collection('renamed'), folderQueries());
  }, 120_000);

  it('renameCollection across databases and onto an existing collection (dropTarget)', async () => {
    const admin = server.client!.db('admin');
    await admin.command({ renameCollection: 'coll.renamed', to: 'other.moved' });
    const target = server.client!.db('other').collection('target');
    await declare(target);
    await target.insertMany(items(30, 1000));
    await admin.command({ renameCollection: 'other.moved', to: 'other.target', dropTarget: true });

    await server.restart();
    db = server.client!.db('coll');
    const other = server.client!.db('other');
    expect((await other.listCollections().toArray()).map((c) => c.name)).toEqual(['target']);
    expect(await other.collection('target').countDocuments({})).toBe(200);
    expect((await other.collection('target').listIndexes().toArray()).map((i) => i.name).sort()).toEqual([
      '_id_',
      'folderId_1',
      'folderId_1_lowerName_1',
      'tags_1',
    ]);
    expect((await db.listCollections().toArray()).map((c) => c.name)).toEqual(['items']);
    await sameAsScan(other.collection('target'), folderQueries());
  }, 120_000);

  it('drop and dropDatabase leave nothing behind for a new collection of the same name', async () => {
    const other = server.client!.db('other');
    await other.collection('target').drop();
    const again = other.collection('target');
    await declare(again);
    const docs = items(20, 5000);
    await again.insertMany(docs);
    await sameAsScan(again, folderQueries());
    await db.dropDatabase();
    await declare(db.collection('items'));
    await db.collection('items').insertMany(items(10, 7000));

    await server.restart();
    db = server.client!.db('coll');
    expect(await server.client!.db('other').collection('target').countDocuments({})).toBe(20);
    expect(await db.collection('items').countDocuments({})).toBe(10);
    await sameAsScan(server.client!.db('other').collection('target'), folderQueries());
    await sameAsScan(db.collection('items'), folderQueries());
  }, 120_000);

  it('an index created over existing documents, dropped and created again, stays exact', async () => {
    const c = db.collection<Partial<ItemDoc>>('later');
    await c.insertMany(items(300, 9000));
    await c.createIndex({ size: 1, lowerName: 1 });
    await c.createIndex({ tags: 1 });
    const queries = [{ size: 3 }, { size: 3, lowerName: { $lt: 'item 9100' } }, { tags: 't0' }, { tags: 't4', size: { $gte: 2 } }];
    await sameAsScan(c, queries);
    expect((await indexUsage(c))['size_1_lowerName_1']).toBeGreaterThan(0);
    await c.dropIndex('tags_1');
    await sameAsScan(c, queries);
    await c.updateMany({ size: 2 }, { $push: { tags: 'late' } });
    await c.createIndex({ tags: 1 });
    await sameAsScan(c, [...queries, { tags: 'late' }]);

    // a unique index that the documents violate is refused, and leaves nothing behind
    const error = await c.createIndex({ size: 1 }, { unique: true }).catch((e: MongoServerError) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect((error as MongoServerError).code).toBe(11000);
    expect((await c.listIndexes().toArray()).map((i) => i.name).sort()).toEqual(['_id_', 'size_1_lowerName_1', 'tags_1']);
    const keep = await c.findOne({ size: 1 });
    await c.deleteMany({ _id: { $ne: keep!._id } });
    await c.createIndex({ size: 1 }, { unique: true });
    await expect(c.insertOne({ size: 1 })).rejects.toMatchObject({ code: 11000 });

    await server.restart();
    db = server.client!.db('coll');
    await sameAsScan(db.collection<Partial<ItemDoc>>('later'), [...queries, { size: 1 }]);
    await expect(db.collection<Partial<ItemDoc>>('later').insertOne({ size: 1 })).rejects.toMatchObject({ code: 11000 });
  }, 120_000);

  it('a store written by stock mongo-java-server gets its indexes built when the extension opens it', async () => {
    const legacy = new EmbeddedServer('strata-legacy-');
    try {
      const docs = items(250, 30000);
      await withStockServer(legacy.dataDir, async (uri) => {
        const client = await MongoClient.connect(uri);
        try {
          const c = client.db('legacy').collection('items');
          await declare(c);
          await c.insertMany(docs);
        } finally {
          await client.close();
        }
      });
      await legacy.start();
      const c = legacy.client!.db('legacy').collection('items');
      expect(await c.countDocuments({})).toBe(250);
      await sameAsScan(c, folderQueries());
      await expect(c.insertOne({ folderId: docs[0].folderId, lowerName: docs[0].lowerName })).rejects.toMatchObject({ code: 11000 });
      expect((await indexUsage(c)).folderId_1_lowerName_1 + (await indexUsage(c)).folderId_1).toBeGreaterThan(0);
    } finally {
      await legacy.dispose();
    }
  }, 120_000);

  it('a sparse unique index is not used where it lacks documents', async () => {
    const c = db.collection('sparse');
    await c.createIndex({ email: 1 }, { unique: true, sparse: true });
    await c.insertMany([{ email: 'a@x' }, { email: 'b@x' }, { name: 'no email' }, { name: 'none either' }, { email: null }]);
    await sameAsScan(c, [{ email: 'a@x' }, { email: null }, { email: { $in: ['b@x', null] } }, { email: { $gt: 'a' } }]);
  });

  it('countDocuments and aggregations that start with $match answer what a scan answers', async () => {
    const c = db.collection('counted');
    await declare(c);
    await c.createIndex({ size: 1 });
    await c.insertMany(items(400, 20000));
    const queries: Document[] = [
      { folderId: FOLDERS[3] },
      { folderId: FOLDERS[3], lowerName: { $gte: 'item 20100', $lt: 'item 20200' } },
      { folderId: FOLDERS[3], lowerName: { $gt: 'item 20100' } },
      { folderId: { $in: [FOLDERS[1], FOLDERS[2]] } },
      { folderId: FOLDERS[4], size: 2 },
      { size: 4 },
      { size: { $gt: 4 } },
      { tags: 't3' },
      { folderId: new ObjectId() },
      { folderId: FOLDERS[5], lowerName: 'item 20005' },
    ];
    const pipelines = (q: Document): Document[][] => [
      [{ $match: q }, { $count: 'n' }],
      [{ $match: q }, { $skip: 3 }, { $limit: 10 }, { $group: { _id: 1, n: { $sum: 1 } } }],
      [{ $match: q }, { $group: { _id: null, n: { $sum: 2 }, total: { $sum: '$size' } } }],
      // counts computed from the index: int sums that overflow to long, long and negative constants, doubles, what follows
      [{ $match: q }, { $group: { _id: 'all', big: { $sum: 2147483647 }, long: { $sum: Long.fromNumber(3) }, minus: { $sum: -1 } } }],
      [{ $match: q }, { $group: { _id: null, tenth: { $sum: 0.1 } } }],
      [{ $match: q }, { $limit: 2 }, { $count: 'n' }, { $project: { m: { $add: ['$n', 1] } } }],
      [{ $match: q }, { $skip: 1000 }, { $count: 'n' }],
      [{ $match: q }, { $group: { _id: '$size', n: { $sum: 1 } } }, { $sort: { _id: 1 } }],
      [{ $match: q }, { $sort: { lowerName: -1 } }, { $limit: 5 }, { $project: { lowerName: 1 } }],
      [{ $match: q }, { $facet: { total: [{ $count: 'n' }], page: [{ $sort: { lowerName: 1 } }, { $limit: 3 }] } }],
      [{ $match: q }, { $lookup: { from: 'counted', localField: 'size', foreignField: 'size', as: 'same' } }, { $project: { n: { $size: '$same' } } }],
      [{ $match: q }, { $unwind: '$tags' }, { $group: { _id: '$tags', n: { $sum: 1 } } }, { $sort: { _id: 1 } }],
    ];
    for (const q of queries) {
      for (const [skip, limit] of [[0, 0], [5, 0], [0, 7], [10, 3]]) {
        const options = { ...(skip ? { skip } : {}), ...(limit ? { limit } : {}) };
        expect({ q: canonical(q), skip, limit, n: await c.countDocuments(q, options) }).toEqual({
          q: canonical(q),
          skip,
          limit,
          n: await c.countDocuments(scanOf(q), options),
        });
      }
      for (const pipeline of pipelines(q)) {
        const twin = [{ $match: scanOf(q) }, ...pipeline.slice(1)];
        expect({ pipeline: canonical(pipeline), result: canonical(await c.aggregate(pipeline).toArray()) }).toEqual({
          pipeline: canonical(pipeline),
          result: canonical(await c.aggregate(twin).toArray()),
        });
      }
    }
    // errors read as they do without indexes
    const bad = async (pipeline: Document[]) => c.aggregate(pipeline).toArray().then(() => 'no error', (e: Error) => e.message);
    expect(await bad([{ $match: { folderId: FOLDERS[1] } }, { $group: { n: { $sum: 1 } } }])).toBe(
      await bad([{ $match: scanOf({ folderId: FOLDERS[1] }) }, { $group: { n: { $sum: 1 } } }]),
    );
    expect(await bad([{ $match: { folderId: FOLDERS[1] } }, { $project: { x: { $divide: ['$size', 0] } } }])).toBe(
      await bad([{ $match: scanOf({ folderId: FOLDERS[1] }) }, { $project: { x: { $divide: ['$size', 0] } } }]),
    );
    const usage = await indexUsage(c);
    expect(usage.folderId_1 + usage.folderId_1_lowerName_1).toBeGreaterThan(0);
    expect(usage.size_1).toBeGreaterThan(0);
  }, 120_000);
});

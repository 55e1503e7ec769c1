/**
 * The embedded server's indexes (issue 11) answer exactly what a full scan answers.
 *
 * Two collections in one server receive the same random documents and the same random writes:
 * `indexed` carries every index shape the product declares (single field, compound, unique
 * compound, multikey over arrays of values and of subdocuments, dotted paths, descending), while
 * `reference` has none, so the library scans it. After each phase (writes, clean restart, more
 * writes, SIGKILL and restart) a battery of queries must give the same documents in the same
 * order on both: find with sort/skip/limit/projection, countDocuments (with skip/limit), $match
 * aggregations (in scan order, and grouped) and distinct; and $indexStats must show that the
 * indexes were used. Replay a failure with SEED=<seed printed in the failure>.
 */
import { Collection, Db, Document, Double, Long, ObjectId, OptionalId } from 'mongodb';
import { EmbeddedServer, Random, canonical, indexUsage, suiteSeed, waitForStoreFlush } from './support';

const seed = suiteSeed();
const rnd = new Random(seed);

/** ObjectIds shaped like the driver's (time first, so they ascend), but drawn from the seed. */
let oidCounter = 0;
function oid(): ObjectId {
  const time = (0x65000000 + oidCounter++).toString(16);
  const rest = Array.from({ length: 16 }, () => rnd.int(16).toString(16)).join('');
  return new ObjectId(time + rest);
}

const FOLDERS = Array.from({ length: 10 }, () => oid());
const USERS = Array.from({ length: 8 }, () => oid());
const GROUPS = Array.from({ length: 6 }, () => oid());
const TAGS = ['a', 'b', 'c', 'd', 'e'];
const NAMES = ['alpha', 'beta', 'Gamma', 'delta', 'épée', 'zeta', 'Zulu', '10', '9', ''];
const DAYS = Array.from({ length: 6 }, (_, i) => new Date(Date.UTC(2026, 0, 1 + i)));
const PARENTS = ['folder', 'user', 'collection'];

const INDEXES: Array<[Document, Document?]> = [
  [{ folderId: 1, uname: 1 }, { unique: true }],
  [{ folderId: 1 }],
  [{ folderId: 1, lowerName: 1 }],
  [{ parentCollection: 1, folderId: 1, lowerName: 1 }],
  [{ size: 1 }],
  [{ created: -1 }],
  [{ flag: 1, size: 1 }],
  [{ tags: 1 }],
  [{ 'access.users.id': 1 }],
  [{ 'access.groups.id': 1 }],
  [{ groups: 1 }],
  [{ 'meta.k': 1 }],
  [{ expires: 1 }, { expireAfterSeconds: 3600 }],
];

/** The _id of a test document (newId): mostly ObjectIds, some strings and numbers. */
type TestId = ObjectId | string | number;

/** An access entry, as the product stores them under `access.users` and `access.groups`. */
interface AccessEntry {
  id: ObjectId;
  level: number;
}

/**
 * A document of both collections. makeDoc leaves fields out at random and gives some of them
 * several types on purpose (size, tags, meta); the random writes change, unset and rename them.
 */
interface TestDoc {
  _id: TestId;
  folderId?: ObjectId | null;
  name?: string;
  lowerName?: string;
  /** lowerName under the name a `$rename` gives it */
  lower?: string;
  uname?: string;
  parentCollection?: string;
  size?: number | Double | Long | string | null;
  flag?: boolean;
  created?: Date;
  expires?: Date;
  tags?: string | string[];
  access?: { users?: AccessEntry[]; groups?: AccessEntry[] };
  groups?: ObjectId[];
  meta?: string | { k?: number | null | Array<number | string>; other?: number };
  edits?: number;
}

let counter = 0;
const ids: TestId[] = [];

function maybe<T>(p: number, make: () => T): T | undefined {
  return rnd.chance(p) ? make() : undefined;
}

function sizeValue(): TestDoc['size'] | undefined {
  switch (rnd.int(7)) {
    case 0:
    case 1:
      return rnd.int(12);
    case 2:
      return new Double(rnd.int(12)); // 5.0 equals 5
    case 3:
      return rnd.int(12) + 0.5;
    case 4:
      return Long.fromNumber(rnd.int(12));
    case 5:
      return rnd.pick([null, String(rnd.int(12))]);
    default:
      return undefined;
  }
}

function newId(): TestId {
  // mostly driver ObjectIds; some strings and numbers, so that the scan order mixes types
  const r = rnd.int(20);
  if (r === 0) return `s${rnd.int(1000)}-${counter}`;
  if (r === 1) return 100000 + counter;
  return oid();
}

function makeDoc(id: TestId = newId()): TestDoc {
  counter++;
  const name = rnd.pick(NAMES);
  const doc: TestDoc = { _id: id };
  const folder = rnd.int(20);
  if (folder < 17) doc.folderId = rnd.pick(FOLDERS);
  else if (folder < 19) doc.folderId = null;
  doc.name = name;
  doc.lowerName = `${name.toLowerCase()}-${rnd.int(4)}`;
  doc.uname = `${name}#${counter}`;
  doc.parentCollection = rnd.pick(PARENTS);
  const size = sizeValue();
  if (size !== undefined) doc.size = size;
  const flag = maybe(0.8, () => rnd.chance(0.5));
  if (flag !== undefined) doc.flag = flag;
  doc.created = rnd.pick(DAYS);
  switch (rnd.int(5)) {
    case 0:
    case 1:
      doc.tags = rnd.subset(TAGS, 3);
      break;
    case 2:
      doc.tags = rnd.pick(TAGS);
      break;
    case 3:
      doc.tags = [];
      break;
  }
  if (rnd.chance(0.8)) {
    doc.access = {
      users: rnd.subset(USERS, 3).map((id) => ({ id, level: rnd.int(3) })),
      ...(rnd.chance(0.7) ? { groups: rnd.subset(GROUPS, 2).map((id) => ({ id, level: rnd.int(3) })) } : {}),
    };
  }
  if (rnd.chance(0.5)) doc.groups = rnd.subset(GROUPS, 3);
  switch (rnd.int(5)) {
    case 0:
      doc.meta = { k: rnd.int(4) };
      break;
    case 1:
      doc.meta = { k: [rnd.int(4), rnd.pick(TAGS)] };
      break;
    case 2:
      doc.meta = 'flat';
      break;
    case 3:
      doc.meta = { other: 1 };
      break;
  }
  if (rnd.chance(0.3)) doc.expires = rnd.pick(DAYS);
  return doc;
}

/** A random query with its find options, over the shapes the product uses and some it does not. */
/** Query number `i` of a battery: the first ones go through every shape once (so each battery, and
 * the index usage counted after a restart, covers them all), the rest are random shapes. */
function makeQuery(i: number): { q: Document; sort?: Document; skip?: number; limit?: number; projection?: Document } {
  const F = () => rnd.pick(FOLDERS);
  const dir = () => rnd.pick([1, -1]);
  const page = () => ({ skip: rnd.pick([0, 0, 1, 3, 10]), limit: rnd.pick([0, 1, 5, 50]) });
  const name = () => `${rnd.pick(NAMES).toLowerCase()}-${rnd.int(4)}`;
  const shapes: Array<() => ReturnType<typeof makeQuery>> = [
    () => ({ q: { folderId: F() }, sort: { lowerName: dir() }, ...page() }),
    () => ({ q: { folderId: F() }, sort: { uname: dir() }, ...page() }),
    () => ({ q: { folderId: F(), uname: { $gt: `${rnd.pick(NAMES)}#${rnd.int(counter)}` } }, sort: { uname: 1 }, limit: rnd.pick([1, 5, 50]) }),
    () => ({ q: { folderId: F(), uname: { $lte: `${rnd.pick(NAMES)}` } }, sort: { uname: -1 }, limit: 5 }),
    () => ({ q: { folderId: F(), uname: { $gt: `${rnd.pick(NAMES)}#${rnd.int(counter)}` } }, sort: { uname: dir() }, skip: 1 + rnd.int(8), limit: 5 }),
    () => ({ q: { folderId: F(), uname: { $gte: rnd.pick(NAMES), $lt: rnd.pick(NAMES) } }, sort: { uname: dir() }, skip: 1 + rnd.int(5), limit: 3 }),
    () => ({ q: { folderId: F() }, sort: { uname: dir() }, skip: 5 + rnd.int(30), limit: rnd.pick([1, 10]) }),
    () => ({ q: { folderId: F(), lowerName: { $gte: name(), $lt: name() } }, sort: { lowerName: dir() } }),
    () => ({ q: { folderId: F(), lowerName: name() } }),
    () => ({ q: { folderId: F() }, projection: { lowerName: 1, _id: 0 } }),
    () => ({ q: { folderId: F() }, sort: { created: dir(), _id: 1 }, ...page() }),
    () => ({ q: { folderId: { $in: [F(), F(), null] } } }),
    () => ({ q: { folderId: { $in: [F(), F()] } }, sort: { lowerName: 1 }, limit: 7 }),
    () => ({ q: { folderId: null } }),
    () => ({ q: { folderId: { $eq: F() }, size: { $ne: 3 } } }),
    () => ({ q: { folderId: { $exists: false } } }),
    () => ({ q: { $and: [{ folderId: F() }, { flag: rnd.chance(0.5) }] } }),
    () => ({ q: { parentCollection: rnd.pick(PARENTS), folderId: F() }, sort: { lowerName: dir() }, ...page() }),
    () => ({ q: { parentCollection: rnd.pick(PARENTS) }, sort: { folderId: 1 }, limit: 20 }),
    () => ({ q: { size: rnd.int(12) } }),
    () => ({ q: { size: new Double(rnd.int(12)) } }),
    () => ({ q: { size: Long.fromNumber(rnd.int(12)) } }),
    () => ({ q: { size: { $gt: rnd.int(12), $lte: rnd.int(12) + 3 } }, sort: { size: dir() } }),
    () => ({ q: { size: { $gte: String(rnd.int(12)) } } }),
    () => ({ q: { size: null } }),
    () => ({ q: { size: { $in: [1, 2.5, '3', null] } } }),
    () => ({ q: { created: { $gt: rnd.pick(DAYS) } }, sort: { created: -1 }, ...page() }),
    () => ({ q: { created: { $lte: rnd.pick(DAYS) } }, sort: { created: 1 }, limit: 10 }),
    () => ({ q: { created: rnd.pick(DAYS) } }),
    () => ({ q: { expires: { $lt: rnd.pick(DAYS) } } }),
    () => ({ q: { flag: rnd.chance(0.5) }, sort: { size: dir() }, limit: 10 }),
    () => ({ q: { flag: true, size: { $lt: 6 } } }),
    () => ({ q: { flag: null } }),
    () => ({ q: { tags: rnd.pick(TAGS) } }),
    () => ({ q: { tags: { $in: [rnd.pick(TAGS), rnd.pick(TAGS)] } }, sort: { uname: 1 } }),
    () => ({ q: { tags: { $all: [rnd.pick(TAGS), rnd.pick(TAGS)] } } }),
    () => ({ q: { tags: null } }),
    () => ({ q: { tags: { $size: 0 } } }),
    () => ({ q: { tags: [rnd.pick(TAGS)] } }),
    () => ({ q: { tags: { $gt: 'b' } }, sort: { tags: 1 } }),
    () => ({ q: { tags: { $gt: rnd.pick(TAGS), $lt: rnd.pick(TAGS) } } }),
    () => ({ q: { 'meta.k': { $gte: rnd.int(4), $lte: rnd.int(4) } } }),
    () => ({ q: { 'access.users.id': { $gte: rnd.pick(USERS), $lt: rnd.pick(USERS) } }, sort: { uname: -1 }, limit: 5 }),
    () => ({ q: { 'access.users.id': rnd.pick(USERS) }, sort: { lowerName: 1 }, ...page() }),
    () => ({ q: { 'access.users.id': { $in: [rnd.pick(USERS), rnd.pick(USERS)] } } }),
    () => ({ q: { 'access.users': { $elemMatch: { id: rnd.pick(USERS), level: { $gte: 1 } } } } }),
    () => ({ q: { $or: [{ 'access.users.id': rnd.pick(USERS) }, { 'access.groups.id': { $in: [rnd.pick(GROUPS), rnd.pick(GROUPS)] } }] } }),
    () => ({ q: { $or: [{ 'access.users.id': rnd.pick(USERS) }, { flag: true }] }, sort: { uname: 1 }, limit: 10 }),
    () => ({ q: { $or: [{ 'access.users.id': rnd.pick(USERS) }, { public: true }] } }),
    () => ({ q: { folderId: F(), $or: [{ 'access.users.id': rnd.pick(USERS) }, { 'access.groups.id': rnd.pick(GROUPS) }] }, sort: { lowerName: 1 } }),
    () => ({ q: { 'access.groups.id': null } }),
    () => ({ q: { groups: rnd.pick(GROUPS) } }),
    () => ({ q: { groups: { $in: [rnd.pick(GROUPS)] }, folderId: F() } }),
    () => ({ q: { 'meta.k': rnd.int(4) } }),
    () => ({ q: { 'meta.k': rnd.pick(TAGS) } }),
    () => ({ q: { 'meta.k': null } }),
    () => ({ q: { 'meta.k': { $gte: 1 } } }),
    () => ({ q: { uname: { $regex: '^a' } } }),
    () => ({ q: { _id: rnd.pick(ids) } }),
    () => ({ q: { _id: { $in: [rnd.pick(ids), rnd.pick(ids)] }, folderId: F() } }),
    () => ({ q: { _id: { $in: Array.from({ length: 20 }, () => rnd.pick(ids)) }, $or: [{ public: true }, { 'access.users.id': rnd.pick(USERS) }] } }),
    () => ({ q: { $or: [{ _id: rnd.pick(ids) }, { 'access.users.id': rnd.pick(USERS) }] }, sort: { lowerName: 1 } }),
    () => ({ q: { _id: new Double(100000 + rnd.int(counter)), flag: { $ne: null } } }),
    () => ({ q: { _id: { $in: [100000 + rnd.int(counter), `s${rnd.int(1000)}-${rnd.int(counter)}`] }, size: { $exists: true } } }),
  ];
  return (i < shapes.length ? shapes[i] : rnd.pick(shapes))();
}

async function answer(collection: Collection<TestDoc>, query: ReturnType<typeof makeQuery>): Promise<string[]> {
  const { q, sort, skip, limit, projection } = query;
  const attempt = async (fn: () => Promise<unknown>) => {
    try {
      return canonical(await fn());
    } catch (e) {
      return canonical({ error: (e as Error).message.replace(/\b[0-9a-f-]{36}\b/g, '<uuid>') });
    }
  };
  return Promise.all([
    attempt(() => {
      let cursor = collection.find(q, projection ? { projection } : {});
      if (sort) cursor = cursor.sort(sort);
      if (skip) cursor = cursor.skip(skip);
      if (limit) cursor = cursor.limit(limit);
      return cursor.toArray();
    }),
    attempt(() => collection.countDocuments(q)),
    attempt(() => collection.countDocuments(q, { skip: 2, limit: 5 })),
    attempt(() => collection.aggregate([{ $match: q }]).toArray()),
    attempt(() =>
      collection.aggregate([{ $match: q }, { $group: { _id: '$folderId', n: { $sum: 1 } } }, { $sort: { _id: 1 } }]).toArray(),
    ),
    attempt(() => collection.aggregate([{ $match: q }, { $count: 'n' }]).toArray()),
    attempt(() => collection.distinct('lowerName', q)),
  ]);
}

const ANSWERS = ['find', 'countDocuments', 'countDocuments skip 2 limit 5', '$match', '$match $group', '$match $count', 'distinct'];

/** Applies one random write to both collections; both must answer the same. */
async function write(indexed: Collection<TestDoc>, reference: Collection<TestDoc>, serverOutput: () => string): Promise<void> {
  const F = () => rnd.pick(FOLDERS);
  const id = () => rnd.pick(ids);
  const ops: Array<() => [string, (c: Collection<TestDoc>) => Promise<unknown>]> = [
    () => {
      const doc = makeDoc();
      ids.push(doc._id);
      return ['insertOne', (c) => c.insertOne({ ...doc }).then((r) => r.insertedId)];
    },
    () => {
      const docs = Array.from({ length: 1 + rnd.int(4) }, () => makeDoc());
      docs.forEach((d) => ids.push(d._id));
      return ['insertMany', (c) => c.insertMany(docs.map((d) => ({ ...d }))).then((r) => r.insertedCount)];
    },
    () => {
      const update = { $set: { folderId: rnd.chance(0.9) ? F() : null, lowerName: `${rnd.pick(NAMES)}-${rnd.int(4)}` } };
      const filter = { _id: id() };
      return ['move', (c) => c.updateOne(filter, update)];
    },
    () => {
      const filter = { folderId: F() };
      const update = { $set: { flag: rnd.chance(0.5) } };
      return ['updateMany', (c) => c.updateMany(filter, update)];
    },
    () => {
      const filter = { _id: id() };
      const update = rnd.pick<Document>([
        { $push: { tags: rnd.pick(TAGS) } },
        { $pull: { tags: rnd.pick(TAGS) } },
        { $addToSet: { tags: rnd.pick(TAGS) } },
        { $set: { tags: [] } },
        { $set: { tags: rnd.pick(TAGS) } },
        { $unset: { tags: '' } },
        { $set: { 'tags.0': rnd.pick(TAGS) } },
      ]);
      return ['tags', (c) => c.updateOne(filter, update)];
    },
    () => {
      const filter = { _id: id() };
      const update = rnd.pick<Document>([
        { $push: { 'access.users': { id: rnd.pick(USERS), level: 2 } } },
        { $pull: { 'access.users': { id: rnd.pick(USERS) } } },
        { $set: { 'access.users.0.id': rnd.pick(USERS) } },
        { $set: { 'access.groups': [{ id: rnd.pick(GROUPS), level: 1 }] } },
        { $unset: { access: '' } },
        { $addToSet: { groups: rnd.pick(GROUPS) } },
        { $pull: { groups: rnd.pick(GROUPS) } },
      ]);
      return ['access', (c) => c.updateOne(filter, update).catch((e) => ({ error: (e as Error).message }))];
    },
    () => {
      const filter = { _id: id() };
      const update = rnd.pick<Document>([
        { $set: { size: sizeValue() ?? 1 } },
        { $inc: { size: 1 } },
        { $unset: { size: '' } },
        { $set: { 'meta.k': rnd.pick([1, 2, [3, 'a'], null]) } },
        { $set: { meta: rnd.pick(['flat', { k: 3 }]) } },
        { $set: { created: rnd.pick(DAYS), expires: rnd.pick(DAYS) } },
        { $rename: { lowerName: 'lower' } },
        { $rename: { lower: 'lowerName' } },
      ]);
      return ['fields', (c) => c.updateOne(filter, update).catch((e) => ({ error: (e as Error).message }))];
    },
    () => {
      const target = id();
      const replacement: OptionalId<TestDoc> = makeDoc(target);
      delete replacement._id;
      return ['replaceOne', (c) => c.replaceOne({ _id: target }, { ...replacement })];
    },
    () => {
      const filter = rnd.pick<Document>([{ folderId: F() }, { tags: rnd.pick(TAGS) }, { 'access.users.id': rnd.pick(USERS) }]);
      return ['deleteOne', (c) => c.deleteOne(filter)];
    },
    () => {
      const filter = { flag: false, size: { $lt: 2 } };
      return ['deleteMany', (c) => c.deleteMany(filter)];
    },
    () => {
      const filter = { folderId: F() };
      const update = { $set: { lowerName: `${rnd.pick(NAMES)}-${rnd.int(4)}` }, $inc: { edits: 1 } };
      const sort = { lowerName: rnd.pick([1, -1] as const) };
      const returnDocument = rnd.pick(['before', 'after'] as const);
      return ['findOneAndUpdate', (c) => c.findOneAndUpdate(filter, update, { sort, returnDocument })];
    },
    () => {
      const filter = { tags: rnd.pick(TAGS) };
      return ['findOneAndDelete', (c) => c.findOneAndDelete(filter, { sort: { created: -1 } })];
    },
    () => {
      const target = newId();
      ids.push(target);
      const update = { $set: { folderId: F(), lowerName: 'upserted-0', uname: `up#${counter++}` }, $setOnInsert: { tags: ['a'] } };
      return ['upsert', (c) => c.updateOne({ _id: target }, update, { upsert: true })];
    },
  ];
  const [name, op] = rnd.pick(ops)();
  const run = (c: Collection<TestDoc>) => op(c).catch((e: Error) => ({ error: e.message }));
  const [a, b] = [await run(indexed), await run(reference)];
  if (canonical(a) !== canonical(b)) {
    const server = serverOutput().slice(-3000);
    expect({ write: name, indexed: canonical(a), server }).toEqual({ write: name, indexed: canonical(b), server });
  }
}

describe(`embedded database indexes (SEED=${seed})`, () => {
  const server = new EmbeddedServer('strata-idx-');
  let db: Db;
  let indexed: Collection<TestDoc>;
  let reference: Collection<TestDoc>;

  const connect = () => {
    db = server.client!.db('idx');
    indexed = db.collection<TestDoc>('indexed');
    reference = db.collection<TestDoc>('reference');
  };

  /** Every query of a fresh random battery answers the same on both collections. */
  const compare = async (phase: string, queries = 100) => {
    expect(canonical(await indexed.find({}).toArray())).toBe(canonical(await reference.find({}).toArray()));
    for (let i = 0; i < queries; i++) {
      const query = makeQuery(i);
      const [a, b] = await Promise.all([answer(indexed, query), answer(reference, query)]);
      const differs = a.findIndex((part, k) => part !== b[k]);
      if (differs >= 0) {
        // a readable failure: the phase, the query, the first answer that differs, and the server's messages
        const shorten = (text: string) => (text.length > 1500 ? `${text.slice(0, 1500)}…` : text);
        expect({ phase, query: canonical(query), answer: ANSWERS[differs], indexed: shorten(a[differs]), server: server.output().slice(-3000) }).toEqual({
          phase,
          query: canonical(query),
          answer: ANSWERS[differs],
          indexed: shorten(b[differs]),
          server: server.output().slice(-3000),
        });
      }
    }
  };

  beforeAll(async () => {
    await server.start();
    connect();
    for (const [key, options] of INDEXES) await indexed.createIndex(key, options ?? {});
    const docs = Array.from({ length: 400 }, () => makeDoc());
    docs.forEach((d) => ids.push(d._id));
    await indexed.insertMany(docs.map((d) => ({ ...d })));
    await reference.insertMany(docs.map((d) => ({ ...d })));
  }, 120_000);

  afterAll(async () => {
    await server.dispose();
  });

  it('answers like a scan after inserts', async () => {
    await compare('inserted');
  }, 120_000);

  it('answers like a scan after random writes', async () => {
    for (let i = 0; i < 300; i++) await write(indexed, reference, () => server.output());
    await compare('written');
  }, 120_000);

  it('answers like a scan after a clean restart and more writes', async () => {
    await server.restart();
    connect();
    await compare('restarted');
    for (let i = 0; i < 200; i++) await write(indexed, reference, () => server.output());
    await compare('written again');
  }, 120_000);

  it('answers like a scan after SIGKILL and a restart', async () => {
    for (let i = 0; i < 100; i++) await write(indexed, reference, () => server.output());
    await waitForStoreFlush(server.dataDir);
    await server.kill();
    await server.start();
    connect();
    await compare('killed');
    for (let i = 0; i < 100; i++) await write(indexed, reference, () => server.output());
    await compare('written after the kill');
  }, 120_000);

  it('used the indexes for those queries', async () => {
    const usage = await indexUsage(indexed);
    for (const name of ['tags_1', 'access.users.id_1', 'access.groups.id_1', 'groups_1', 'meta.k_1', 'created_-1', 'size_1']) {
      expect({ name, used: usage[name] > 0 }).toEqual({ name, used: true });
    }
    const folderIndexes = ['folderId_1', 'folderId_1_uname_1', 'folderId_1_lowerName_1', 'parentCollection_1_folderId_1_lowerName_1'];
    expect(folderIndexes.every((name) => name in usage)).toBe(true);
    expect(folderIndexes.reduce((n, name) => n + usage[name], 0)).toBeGreaterThan(0);
    // the same declarations are listed back, as MongoDB lists them
    const listed = (await indexed.listIndexes().toArray()).map((i) => i.name).sort();
    expect(listed).toEqual(['_id_', ...INDEXES.map(([key]) => Object.entries(key).map(([k, v]) => `${k}_${v}`).join('_'))].sort());
  });
});

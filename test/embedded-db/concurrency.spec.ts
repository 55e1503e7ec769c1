/**
 * Under 50 parallel clients: findOneAndUpdate returns each caller's own document (before or
 * after its update), claims through an index-ordered findOneAndUpdate never hand one document to
 * two callers, and readers never see a document half-way through an update. (Stock
 * mongo-java-server answers with the stored document object after releasing its lock, so
 * callers saw other callers' increments: dbcheck's atomic-findOneAndUpdate-returns-own-result.)
 */
import { MongoClient } from 'mongodb';
import { EmbeddedServer } from './support';

const CLIENTS = 50;
const ROUNDS = 10;

/** A counter: its value, and the client of each increment in order. */
interface CounterDoc {
  _id: string;
  v: number;
  history: number[];
}

/** A queued job, `by` the client that claimed it. */
interface JobDoc {
  n: number;
  state: 'queued' | 'taken';
  priority: number;
  by?: number;
}

/** Two counters and a list that every update changes together. */
interface PairDoc {
  i: number;
  group: number;
  a: number;
  b: number;
  list: number[];
}

describe('embedded database under concurrency', () => {
  const server = new EmbeddedServer('strata-conc-');
  const clients: MongoClient[] = [];

  beforeAll(async () => {
    await server.start();
    for (let i = 0; i < CLIENTS; i++) clients.push(await MongoClient.connect(server.uri, { maxPoolSize: 1 }));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.dispose();
  });

  const counters = () => server.client!.db('conc').collection<CounterDoc>('counters');

  it.each(['after', 'before'] as const)('findOneAndUpdate $inc with returnDocument %s: every caller sees its own value', async (returnDocument) => {
    const id = `seq-${returnDocument}`;
    await counters().insertOne({ _id: id, v: 0, history: [] });
    const seen = await Promise.all(
      clients.map(async (client, c) => {
        const values: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const doc = await client
            .db('conc')
            .collection<CounterDoc>('counters')
            .findOneAndUpdate({ _id: id }, { $inc: { v: 1 }, $push: { history: c } }, { returnDocument });
          values.push(doc!.v);
          // the returned document is one state of the counter: its history has exactly v entries
          expect(doc!.history.length).toBe(doc!.v);
        }
        return values;
      }),
    );
    const all = seen.flat().sort((a, b) => a - b);
    const first = returnDocument === 'after' ? 1 : 0;
    expect(all).toEqual(Array.from({ length: CLIENTS * ROUNDS }, (_, i) => i + first));
    expect((await counters().findOne({ _id: id }))!.v).toBe(CLIENTS * ROUNDS);
  }, 60_000);

  it('claims through an indexed, sorted findOneAndUpdate give each job to exactly one caller', async () => {
    const jobs = server.client!.db('conc').collection<JobDoc>('jobs');
    await jobs.createIndex({ state: 1, priority: 1 });
    await jobs.insertMany(Array.from({ length: 300 }, (_, n) => ({ n, state: 'queued', priority: (n * 7) % 30 })));
    const claimed = await Promise.all(
      clients.map(async (client, c) => {
        const mine: number[] = [];
        for (;;) {
          const job = await client
            .db('conc')
            .collection<JobDoc>('jobs')
            .findOneAndUpdate({ state: 'queued' }, { $set: { state: 'taken', by: c } }, { sort: { priority: 1 }, returnDocument: 'after' });
          if (!job) return mine;
          expect(job.by).toBe(c);
          expect(job.state).toBe('taken');
          mine.push(job.n);
        }
      }),
    );
    const all = claimed.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 300 }, (_, n) => n));
    expect(await jobs.countDocuments({ state: 'queued' })).toBe(0);
    expect(await jobs.countDocuments({ state: 'taken' })).toBe(300);
    for (let c = 0; c < CLIENTS; c++) expect(await jobs.countDocuments({ by: c, state: 'taken' })).toBe(claimed[c].length);
  }, 60_000);

  it('readers never see a document half-way through an update', async () => {
    const pairs = server.client!.db('conc').collection<PairDoc>('pairs');
    await pairs.createIndex({ group: 1 });
    await pairs.insertMany(Array.from({ length: 20 }, (_, i) => ({ i, group: i % 2, a: 0, b: 0, list: [] as number[] })));
    let stop = false;
    const writers = clients.slice(0, 10).map(async (client, w) => {
      const c = client.db('conc').collection<PairDoc>('pairs');
      for (let r = 0; !stop && r < 200; r++) {
        await c.updateMany({ group: r % 2 }, { $inc: { a: 1, b: 1 }, $push: { list: w } });
      }
    });
    let reads = 0;
    const readers = clients.slice(10).map(async (client) => {
      const c = client.db('conc').collection<PairDoc>('pairs');
      for (let r = 0; r < 30; r++) {
        for (const doc of await c.find({ group: r % 2 }).toArray()) {
          expect(doc.a).toBe(doc.b);
          expect(doc.list.length).toBe(doc.a);
          reads++;
        }
      }
    });
    await Promise.all(readers);
    stop = true;
    await Promise.all(writers);
    expect(reads).toBe(40 * 30 * 10);
  }, 60_000);
});

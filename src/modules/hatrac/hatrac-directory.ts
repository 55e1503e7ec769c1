import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { isDuplicateKeyError } from '../../common/errors';
import { Acl, ACL_NAMES } from './hatrac-acl';
import { ancestorsOf } from './hatrac-url';
import { HATRAC_JOB_MODEL, HATRAC_NAME_MODEL, HatracJobDoc, HatracNameDoc } from './hatrac.schema';

/** Every query on Hatrac's directory (`hatrac_name`) and its upload jobs (`hatrac_upload`). */
@Injectable()
export class HatracDirectory {
  constructor(
    @InjectModel(HATRAC_NAME_MODEL) private readonly names: Model<HatracNameDoc>,
    @InjectModel(HATRAC_JOB_MODEL) private readonly jobs: Model<HatracJobDoc>,
  ) {}

  find(name: string): Promise<HatracNameDoc | null> {
    return this.names.findById(name).lean<HatracNameDoc>().exec();
  }

  /** A name and its ancestors (root first) in one query; missing ones are null. */
  async withAncestors(name: string): Promise<{ doc: HatracNameDoc | null; ancestors: (HatracNameDoc | null)[] }> {
    const chain = [...ancestorsOf(name), name];
    const found = new Map((await this.names.find({ _id: { $in: chain } }).lean<HatracNameDoc[]>().exec()).map((d) => [d._id, d]));
    return { doc: found.get(name) ?? null, ancestors: chain.slice(0, -1).map((n) => found.get(n) ?? null) };
  }

  /** Claims a new name; false when it exists or ever existed. */
  async create(doc: Omit<HatracNameDoc, 'created' | 'deleted' | 'nextSerial'>): Promise<boolean> {
    try {
      await this.names.create({ ...doc, deleted: false, nextSerial: 1, created: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
  }

  async setNode(name: string, nodeId: Types.ObjectId): Promise<void> {
    await this.names.updateOne({ _id: name }, { $set: { nodeId } }).exec();
  }

  async setAcl(name: string, acl: Acl): Promise<void> {
    await this.names.updateOne({ _id: name }, { $set: { acl } }).exec();
  }

  /** Live names strictly below `name`, deepest first (the order a recursive delete needs). */
  async liveDescendants(name: string): Promise<HatracNameDoc[]> {
    const prefix = name === '/' ? '/' : `${name}/`;
    const docs = await this.names.find({ _id: { $regex: `^${escapeRegex(prefix)}` }, deleted: false }).lean<HatracNameDoc[]>().exec();
    return docs.sort((a, b) => b._id.split('/').length - a._id.split('/').length);
  }

  /** Live namespaces whose own ACLs name `role`, shallowest first. */
  async namespacesNaming(role: string): Promise<string[]> {
    const lists = ACL_NAMES.namespace.map((acl) => ({ [`acl.${acl}`]: role }));
    const docs = await this.names.find({ kind: 'namespace', deleted: false, $or: lists }, { _id: 1 }).lean<HatracNameDoc[]>().exec();
    return docs.map((d) => d._id).sort((a, b) => a.split('/').length - b.split('/').length);
  }

  async markDeleted(names: string[]): Promise<void> {
    if (names.length) await this.names.updateMany({ _id: { $in: names } }, { $set: { deleted: true, nodeId: null } }).exec();
  }

  /** The serial of a new version of `name` (versions are ordered by it; the newest live one is current). */
  async takeSerial(name: string): Promise<number> {
    const doc = await this.names.findOneAndUpdate({ _id: name }, { $inc: { nextSerial: 1 } }, { new: false }).lean<HatracNameDoc>().exec();
    return doc?.nextSerial ?? 1;
  }

  // ---------------------------------------------------------------- upload jobs

  async createJob(doc: Omit<HatracJobDoc, 'created' | 'chunks'>): Promise<HatracJobDoc> {
    return (await this.jobs.create({ ...doc, chunks: [], created: new Date() })).toObject() as HatracJobDoc;
  }

  findJob(name: string, job: string): Promise<HatracJobDoc | null> {
    return this.jobs.findOne({ job, name }).lean<HatracJobDoc>().exec();
  }

  jobsOf(name: string): Promise<HatracJobDoc[]> {
    return this.jobs.find({ name }).sort({ created: 1 }).lean<HatracJobDoc[]>().exec();
  }

  /** Jobs of `name` and of every name below it. */
  jobsAtOrBelow(name: string): Promise<HatracJobDoc[]> {
    const prefix = name === '/' ? '/' : `${name}/`;
    return this.jobs.find({ $or: [{ name }, { name: { $regex: `^${escapeRegex(prefix)}` } }] }).lean<HatracJobDoc[]>().exec();
  }

  async addChunk(id: Types.ObjectId, chunk: number): Promise<void> {
    await this.jobs.updateOne({ _id: id }, { $addToSet: { chunks: chunk } }).exec();
  }

  /** Removes a job; false when another request removed it first. */
  async deleteJob(id: Types.ObjectId): Promise<boolean> {
    return (await this.jobs.deleteOne({ _id: id }).exec()).deletedCount === 1;
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

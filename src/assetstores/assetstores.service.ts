import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import * as path from 'node:path';
import { ConflictError, isDuplicateKeyError, NotFoundError, ValidationError } from '../common/errors';
import { AppConfig } from '../modules/config/app-config';
import { DbLocks } from '../modules/database/locks';
import { FilesRepository } from '../modules/tree/repositories/files.repository';
import type { Readable } from 'node:stream';
import { AssetstoreAdapter, AssetstoreDoc, AssetstoreFactory, StoredBytes, UploadTarget } from './assetstore';
import { ASSETSTORE_MODEL } from './assetstore.schema';
import { FILESYSTEM, filesystemFactory } from './filesystem/filesystem.assetstore';

/**
 * The assetstores (collection `assetstore`) and the registry of adapter types. The core registers
 * `filesystem`; plugins register more with `registerType`. On first start a filesystem assetstore
 * under `<DATA_DIR>/assetstore` is made current.
 */
@Injectable()
export class AssetstoresService implements OnApplicationBootstrap {
  private readonly factories = new Map<string, AssetstoreFactory>([[FILESYSTEM, filesystemFactory]]);
  private readonly adapters = new Map<string, AssetstoreAdapter>();

  constructor(
    @InjectModel(ASSETSTORE_MODEL) private readonly model: Model<AssetstoreDoc>,
    private readonly files: FilesRepository,
    private readonly locks: DbLocks,
    private readonly config: AppConfig,
  ) {}

  registerType(type: string, factory: AssetstoreFactory): void {
    if (this.factories.has(type)) throw new Error(`assetstore type ${type} is registered twice`);
    this.factories.set(type, factory);
  }

  types(): string[] {
    return [...this.factories.keys()];
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.model.createIndexes(); // the unique name must hold before two instances race to make Default
    if (await this.model.exists({})) return;
    try {
      await this.model.create({ name: 'Default', type: FILESYSTEM, root: path.join(this.config.dataDir, 'assetstore'), current: true, created: new Date() });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err; // another instance made it first
    }
  }

  async current(): Promise<AssetstoreDoc> {
    const doc = (await this.model.findOne({ current: true }).lean<AssetstoreDoc>().exec()) ?? (await this.model.findOne().sort({ _id: 1 }).lean<AssetstoreDoc>().exec());
    if (!doc) throw new Error('no assetstore is configured');
    return doc;
  }

  async get(id: Types.ObjectId): Promise<AssetstoreDoc> {
    const doc = await this.model.findById(id).lean<AssetstoreDoc>().exec();
    if (!doc) throw new NotFoundError(`Assetstore not found: ${id}`);
    return doc;
  }

  list(): Promise<AssetstoreDoc[]> {
    return this.model.find().sort({ _id: 1 }).lean<AssetstoreDoc[]>().exec();
  }

  /**
   * Streams `size` bytes into the current assetstore and calls `record` with where they now are
   * (under the adapter's guard, as an upload's finalize does). Nothing is kept if a step fails.
   */
  async ingest<T>(body: Readable, size: number, record: (where: { assetstoreId: Types.ObjectId; bytes: StoredBytes }) => Promise<T>): Promise<T> {
    const store = await this.current();
    const adapter = await this.adapter(store);
    const target: UploadTarget = { _id: new Types.ObjectId(), size, received: 0, state: {} };
    target.state = await adapter.initUpload(target);
    try {
      const written = await adapter.uploadChunk(target, body);
      if (written !== size) throw new Error(`expected ${size} bytes, read ${written}`);
      return await adapter.finalizeUpload({ ...target, received: written }, (bytes) => record({ assetstoreId: store._id, bytes }));
    } catch (err) {
      await adapter.cancelUpload(target).catch(() => {});
      throw err;
    }
  }

  /**
   * The adapter for an assetstore (one instance per assetstore, made on first use from its
   * document; later calls by id need no read: the adapter is all they would use it for).
   */
  async adapter(idOrDoc: Types.ObjectId | AssetstoreDoc): Promise<AssetstoreAdapter> {
    const made = idOrDoc instanceof Types.ObjectId ? this.adapters.get(String(idOrDoc)) : undefined;
    if (made) return made;
    const doc = idOrDoc instanceof Types.ObjectId ? await this.get(idOrDoc) : idOrDoc;
    const key = String(doc._id);
    let adapter = this.adapters.get(key);
    if (!adapter) {
      const factory = this.factories.get(doc.type);
      if (!factory) throw new Error(`assetstore ${doc.name} has type ${doc.type}, which no loaded plugin provides`);
      adapter = factory(doc, {
        countReferences: (sha512) => this.files.countBySha512(doc._id, sha512),
        withLock: (k, fn) => this.locks.withLock(`${key}:${k}`, fn),
      });
      this.adapters.set(key, adapter);
    }
    return adapter;
  }

  async create(input: { name: string; type: string; root?: string; current?: boolean; [k: string]: unknown }): Promise<AssetstoreDoc> {
    if (!this.factories.has(input.type)) throw new ValidationError(`Unknown assetstore type ${input.type}; known: ${this.types().join(', ')}.`, 'type');
    if (input.type === FILESYSTEM && (!input.root || !path.isAbsolute(input.root))) throw new ValidationError('A filesystem assetstore needs an absolute root.', 'root');
    try {
      const doc = (await this.model.create({ ...input, current: false, created: new Date() })).toObject() as AssetstoreDoc;
      if (input.current) return this.makeCurrent(doc._id);
      return doc;
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new ConflictError('An assetstore with that name already exists.', 'name');
      throw err;
    }
  }

  /** The assetstore of this name, made (not current) when missing; for plugins' own stores. */
  async ensure(input: { name: string; type: string; root?: string }): Promise<AssetstoreDoc> {
    const existing = await this.model.findOne({ name: input.name }).lean<AssetstoreDoc>().exec();
    if (existing) {
      if (input.root && existing.root !== input.root) await this.model.updateOne({ _id: existing._id }, { $set: { root: input.root } }).exec();
      this.adapters.delete(String(existing._id));
      return { ...existing, root: input.root ?? existing.root };
    }
    try {
      return (await this.model.create({ ...input, current: false, created: new Date() })).toObject() as AssetstoreDoc;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      return (await this.model.findOne({ name: input.name }).lean<AssetstoreDoc>().exec())!;
    }
  }

  async makeCurrent(id: Types.ObjectId): Promise<AssetstoreDoc> {
    const doc = await this.get(id);
    await this.model.updateMany({ _id: { $ne: id } }, { $set: { current: false } }).exec();
    await this.model.updateOne({ _id: id }, { $set: { current: true } }).exec();
    return { ...doc, current: true };
  }

  async delete(id: Types.ObjectId): Promise<void> {
    const doc = await this.get(id);
    if (await this.files.countInAssetstore(id)) throw new ConflictError('This assetstore still holds files; move or delete them first.');
    if (doc.current) throw new ConflictError('The current assetstore cannot be deleted; make another one current first.');
    await this.model.deleteOne({ _id: id }).exec();
    this.adapters.delete(String(id));
  }
}

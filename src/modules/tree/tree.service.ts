import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { ConflictError, isDuplicateKeyError, NotFoundError, ValidationError } from '../../common/errors';
import { AssetstoresService } from '../../assetstores/assetstores.service';
import type { StoredBytes } from '../../assetstores/assetstore';
import { AccessLevel, AccessList } from '../access/access-level';
import { sameId } from '../access/access.service';
import { AppEvent, EventBus } from '../events/event-bus';
import { OnEvent } from '../events/on-event.decorator';
import type { UserDoc } from '../users/user.schema';
import { CollectionsRepository } from './repositories/collections.repository';
import { FilesRepository } from './repositories/files.repository';
import { FoldersRepository } from './repositories/folders.repository';
import { ItemsRepository } from './repositories/items.repository';
import { nameKey, NamesRepository } from './repositories/names.repository';
import { CollectionDoc } from './schemas/collection.schema';
import { BaseParentType, ParentType } from './schemas/common';
import { FileDoc } from './schemas/file.schema';
import { FolderDoc } from './schemas/folder.schema';
import { ItemDoc } from './schemas/item.schema';
import './tree-events';
import { SizeChange, TreeSizes } from './tree-sizes';
import { checkMetaKeys, cleanName, extensionsOf, lowerNameOf, numberedName } from './tree-names';
import { ParentRef } from './tree.types';

export interface CreateOptions {
  /** Return an existing child of that name instead of failing (folders: folder; items: item). */
  reuseExisting?: boolean;
  /**
   * With `reuseExisting`: false skips the lookup of the name before it is reserved, for callers
   * that expect it to be free (a file just made on disk); an existing child is then found when the
   * reservation fails, and reported as an ExistingNode.
   */
  lookFirst?: boolean;
  /** Take the next free `name (n)` instead of failing (Girder does this for items and copies). */
  allowRename?: boolean;
  creator?: UserDoc | null;
}

export interface FolderInput {
  name: string;
  description?: string;
  public?: boolean;
  meta?: Record<string, unknown>;
  mapping?: FolderDoc['mapping'];
  hatrac?: FolderDoc['hatrac'];
}

export interface ItemInput {
  name: string;
  description?: string;
  meta?: Record<string, unknown>;
  hatrac?: ItemDoc['hatrac'];
}

export interface NewFile {
  name: string;
  size: number;
  mimeType?: string;
  assetstoreId: Types.ObjectId;
  bytes: StoredBytes;
  hatrac?: FileDoc['hatrac'];
}

/**
 * Documents the caller has read in this request, which a write takes instead of reading them
 * again: `folders`, folders around the nodes it changes (only their ids and parent links are
 * used, to find the folders whose sizes change); `item`, the item of the file being changed.
 */
export interface Known {
  folders?: Iterable<FolderDoc>;
  item?: ItemDoc;
}

const MAX_RENAME_ATTEMPTS = 1000;

/** Age after which a name reservation whose node does not exist counts as left by a crash. */
const STALE_RESERVATION_MS = 60_000;

function isStale(created: Date | undefined): boolean {
  return !created || Date.now() - new Date(created).getTime() > STALE_RESERVATION_MS;
}

/**
 * Every write to the data tree: create, update, move, rename, copy and delete of collections,
 * folders, items and files, with their events (DESIGN §5), name reservations and size bookkeeping.
 * Callers decide access first (AccessService); this service trusts them.
 *
 * Sizes: item = sum of its files; folder.size = its direct items; folder.sizeRecursive = its
 * subtree; user/collection.size = their subtree. Every change is an atomic `$inc` (TreeSizes).
 */
@Injectable()
export class TreeService {
  constructor(
    private readonly collections: CollectionsRepository,
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly files: FilesRepository,
    private readonly names: NamesRepository,
    private readonly events: EventBus,
    private readonly assetstores: AssetstoresService,
    private readonly sizes: TreeSizes,
  ) {}

  // ---------------------------------------------------------------- collections

  async createCollection(input: { name: string; description?: string; public?: boolean }, creator: UserDoc | null): Promise<CollectionDoc> {
    const name = cleanName(input.name);
    const now = new Date();
    const doc: CollectionDoc = {
      _id: new Types.ObjectId(),
      name,
      lowerName: lowerNameOf(name),
      description: (input.description ?? '').trim(),
      public: input.public ?? false,
      access: { users: creator ? [{ id: creator._id, level: AccessLevel.ADMIN }] : [], groups: [] },
      creatorId: creator?._id ?? null,
      meta: {},
      size: 0,
      created: now,
      updated: now,
    };
    await this.vetoable('model.collection.save', { doc });
    let saved: CollectionDoc;
    try {
      saved = await this.collections.insert(doc);
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new ConflictError('A collection with that name already exists.', 'name');
      throw err;
    }
    await this.events.trigger('model.collection.save.created', saved);
    await this.events.trigger('model.collection.save.after', { doc: saved });
    return saved;
  }

  async updateCollection(previous: CollectionDoc, changes: { name?: string; description?: string; public?: boolean }): Promise<CollectionDoc> {
    const set: Partial<CollectionDoc> = { updated: new Date() };
    if (changes.name !== undefined) {
      set.name = cleanName(changes.name);
      set.lowerName = lowerNameOf(set.name);
    }
    if (changes.description !== undefined) set.description = changes.description.trim();
    if (changes.public !== undefined) set.public = changes.public;
    await this.vetoable('model.collection.save', { doc: { ...previous, ...set }, previous });
    let saved: CollectionDoc | null;
    try {
      saved = await this.collections.update(previous._id, set);
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new ConflictError('A collection with that name already exists.', 'name');
      throw err;
    }
    if (!saved) throw new NotFoundError(`Collection not found: ${previous._id}`);
    await this.events.trigger('model.collection.save.after', { doc: saved, previous });
    return saved;
  }

  async deleteCollection(collection: CollectionDoc): Promise<void> {
    await this.vetoable('model.collection.remove', collection);
    for await (const folder of this.folders.childrenOf('collection', collection._id)) await this.deleteFolder(folder);
    await this.collections.delete(collection._id);
    await this.events.trigger('model.collection.remove.after', collection);
  }

  // ---------------------------------------------------------------- folders

  async createFolder(parent: ParentRef, input: FolderInput, opts: CreateOptions = {}): Promise<FolderDoc> {
    const name = cleanName(input.name);
    if (input.meta) checkMetaKeys(input.meta);
    if (opts.reuseExisting && opts.lookFirst !== false) {
      const existing = await this.folders.findChild(parent.type, parent.doc._id, lowerNameOf(name));
      if (existing) return existing;
    }
    const now = new Date();
    const base = this.baseOf(parent);
    const doc: FolderDoc = {
      _id: new Types.ObjectId(),
      name,
      lowerName: lowerNameOf(name),
      description: (input.description ?? '').trim(),
      parentId: parent.doc._id,
      parentCollection: parent.type,
      baseParentType: base.type,
      baseParentId: base.id,
      creatorId: opts.creator?._id ?? null,
      ...this.initialAccess(parent, opts.creator ?? null, input.public),
      meta: input.meta ?? {},
      size: 0,
      sizeRecursive: 0,
      created: now,
      updated: now,
      mapping: input.mapping ?? null,
      hatrac: input.hatrac ?? null,
    };
    await this.reserveName(doc, 'folder', parent.type, parent.doc._id, opts, async (existingKind, existingId) => {
      if (opts.reuseExisting && existingKind === 'folder') return this.folders.findById(existingId);
      return null;
    });
    return this.insertNode(doc, 'folder', parent.type, parent.doc._id, parent.type === 'folder' ? parent.doc : undefined);
  }

  /** Renames, edits and/or moves a folder in one write (one `model.folder.save` with `previous`). */
  async updateFolder(
    previous: FolderDoc,
    changes: { name?: string; description?: string; meta?: Record<string, unknown>; parent?: ParentRef },
    known: Known = {},
  ): Promise<FolderDoc> {
    const set: Partial<FolderDoc> = editedFields(previous, changes);
    const parent = changes.parent;
    const moving = parent !== undefined && !(parent.type === previous.parentCollection && sameId(parent.doc._id, previous.parentId));
    let oldBase: { type: BaseParentType; id: Types.ObjectId } | undefined;
    let newBase: { type: BaseParentType; id: Types.ObjectId } | undefined;
    if (moving) {
      if (parent.type === 'folder') await this.assertNotInside(parent.doc, previous, known);
      set.parentId = parent.doc._id;
      set.parentCollection = parent.type;
      oldBase = { type: previous.baseParentType, id: previous.baseParentId };
      newBase = this.baseOf(parent);
      set.baseParentType = newBase.type;
      set.baseParentId = newBase.id;
    }
    const doc = { ...previous, ...set };
    const parentFolder = parent ? (parent.type === 'folder' ? parent.doc : undefined) : previous.parentCollection === 'folder' ? knownFolder(known, previous.parentId) : undefined;
    const saved = await this.saveWithName(doc, previous, 'folder', set, () => this.folders.update(previous._id, set), parentFolder);
    if (moving) {
      const delta = saved.sizeRecursive;
      await this.sizes.apply(
        [
          { parentType: previous.parentCollection, parentId: previous.parentId, base: oldBase!, delta: -delta },
          { parentType: parent.type, parentId: parent.doc._id, base: newBase!, delta },
        ],
        withParent(known.folders, parentFolder),
      );
      if (!sameId(oldBase!.id, newBase!.id)) {
        const subtree = await this.subtreeFolderIds(saved);
        await this.folders.setBaseParent(subtree, newBase!.type, newBase!.id);
        await this.items.setBaseParentInFolders(subtree, newBase!.type, newBase!.id);
      }
    }
    return saved;
  }

  /** Deletes a folder and everything below it. */
  async deleteFolder(folder: FolderDoc, known: Known = {}): Promise<void> {
    await this.vetoable('model.folder.remove', folder);
    await this.deleteFolderContents(folder, false);
    // as it was when deleted: its size now, and null when a concurrent delete took it (and its size) first
    const current = await this.folders.deleteReturning(folder._id);
    await Promise.all([
      this.names.release(nameKey(folder.parentCollection, folder.parentId, folder.lowerName), folder._id),
      current && this.sizes.apply([{ parentType: folder.parentCollection, parentId: folder.parentId, base: baseOf(folder), delta: -current.sizeRecursive }], known.folders),
    ]);
    await this.events.trigger('model.folder.remove.after', folder);
  }

  /** Deletes everything inside a folder, keeping the folder. */
  async deleteFolderContents(folder: FolderDoc, propagate = true): Promise<void> {
    for await (const child of this.folders.childrenOf('folder', folder._id)) {
      if (propagate) await this.deleteFolder(child);
      else await this.deleteSubtreeQuietly(child);
    }
    for await (const item of this.items.inFolder(folder._id)) await this.deleteItem(item, propagate);
    if (!propagate) return;
  }

  // ---------------------------------------------------------------- items

  async createItem(folder: FolderDoc, input: ItemInput, opts: CreateOptions = {}): Promise<ItemDoc> {
    const name = cleanName(input.name);
    if (input.meta) checkMetaKeys(input.meta);
    if (opts.reuseExisting && opts.lookFirst !== false) {
      const existing = await this.items.findChild(folder._id, lowerNameOf(name));
      if (existing) return existing;
    }
    const now = new Date();
    const doc: ItemDoc = {
      _id: new Types.ObjectId(),
      name,
      lowerName: lowerNameOf(name),
      description: (input.description ?? '').trim(),
      folderId: folder._id,
      baseParentType: folder.baseParentType,
      baseParentId: folder.baseParentId,
      creatorId: opts.creator?._id ?? null,
      meta: input.meta ?? {},
      size: 0,
      created: now,
      updated: now,
      copyOfItem: null,
      hatrac: input.hatrac ?? null,
    };
    await this.reserveName(doc, 'item', 'folder', folder._id, opts, async (existingKind, existingId) => {
      if (opts.reuseExisting && existingKind === 'item') return this.items.findById(existingId);
      return null;
    });
    return this.insertNode(doc, 'item', 'folder', folder._id, folder);
  }

  async updateItem(previous: ItemDoc, changes: { name?: string; description?: string; meta?: Record<string, unknown>; folder?: FolderDoc }, known: Known = {}): Promise<ItemDoc> {
    const set: Partial<ItemDoc> = editedFields(previous, changes);
    const target = changes.folder;
    const moving = target !== undefined && !sameId(target._id, previous.folderId);
    if (moving) {
      set.folderId = target._id;
      set.baseParentType = target.baseParentType;
      set.baseParentId = target.baseParentId;
    }
    const saved = await this.saveWithName({ ...previous, ...set }, previous, 'item', set, () => this.items.update(previous._id, set), target ?? knownFolder(known, previous.folderId));
    if (moving) {
      await this.sizes.apply(
        [
          { folderId: previous.folderId, base: baseOf(previous), delta: -saved.size },
          { folderId: target._id, base: baseOf(target), delta: saved.size },
        ],
        withParent(known.folders, target),
      );
    }
    return saved;
  }

  async deleteItem(item: ItemDoc, propagate = true, known: Known = {}): Promise<void> {
    await this.vetoable('model.item.remove', item);
    for (const file of await this.files.ofItem(item._id)) await this.deleteFile(file, false);
    // as it was when deleted: its size now, and null when a concurrent delete took it (and its size) first
    const current = await this.items.deleteReturning(item._id);
    await Promise.all([
      this.names.release(nameKey('folder', item.folderId, item.lowerName), item._id),
      propagate && current && this.sizes.apply([{ folderId: item.folderId, base: baseOf(item), delta: -current.size }], known.folders),
    ]);
    await this.events.trigger('model.item.remove.after', item);
  }

  // ---------------------------------------------------------------- files

  /** Records a file whose bytes an assetstore holds, and adds its size up the tree. */
  async createFile(item: ItemDoc, input: NewFile, creator: UserDoc | null, known: Known = {}): Promise<FileDoc> {
    const name = cleanName(input.name);
    const now = new Date();
    const doc: FileDoc = {
      _id: new Types.ObjectId(),
      name,
      itemId: item._id,
      size: input.size,
      mimeType: input.mimeType || 'application/octet-stream',
      exts: extensionsOf(name),
      assetstoreId: input.assetstoreId,
      sha512: input.bytes.sha512,
      path: input.bytes.path,
      creatorId: creator?._id ?? null,
      created: now,
      updated: now,
      hatrac: input.hatrac ?? null,
    };
    await this.vetoable('model.file.save', { doc });
    const saved = await this.files.insert(doc);
    await this.sizes.apply([fileSizeChange(item, saved.size)], known.folders);
    await this.events.trigger('model.file.save.created', saved);
    await this.events.trigger('model.file.save.after', { doc: saved });
    return saved;
  }

  async updateFile(previous: FileDoc, changes: { name?: string; mimeType?: string }): Promise<FileDoc> {
    const set: Partial<FileDoc> = { updated: new Date() };
    if (changes.name !== undefined) {
      set.name = cleanName(changes.name);
      set.exts = extensionsOf(set.name);
    }
    if (changes.mimeType !== undefined) set.mimeType = changes.mimeType.trim() || 'application/octet-stream';
    return this.saveFile(previous, set);
  }

  /** Points a file at new bytes (a finished replacement upload); the old bytes are released. */
  async replaceFileContents(previous: FileDoc, input: { size: number; assetstoreId: Types.ObjectId; bytes: StoredBytes }, known: Known = {}): Promise<FileDoc> {
    const set: Partial<FileDoc> = { updated: new Date(), size: input.size, assetstoreId: input.assetstoreId, sha512: input.bytes.sha512, path: input.bytes.path };
    const saved = await this.saveFile(previous, set);
    const delta = saved.size - previous.size;
    const item = delta ? await this.itemOf(previous, known) : null;
    if (item) await this.sizes.apply([fileSizeChange(item, delta)], known.folders);
    await (await this.assetstores.adapter(previous.assetstoreId)).deleteFile(previous);
    return saved;
  }

  async deleteFile(file: FileDoc, propagate = true, known: Known = {}): Promise<void> {
    await this.vetoable('model.file.remove', file);
    await this.files.delete(file._id);
    // the record is gone first, so the adapter sees the true reference count of the bytes
    await (await this.assetstores.adapter(file.assetstoreId)).deleteFile(file);
    const item = propagate && file.size ? await this.itemOf(file, known) : null;
    if (item) await this.sizes.apply([fileSizeChange(item, -file.size)], known.folders);
    await this.events.trigger('model.file.remove.after', file);
  }

  // ---------------------------------------------------------------- metadata and access

  async setMetadata<K extends 'folder' | 'item' | 'collection'>(
    kind: K,
    previous: K extends 'folder' ? FolderDoc : K extends 'item' ? ItemDoc : CollectionDoc,
    meta: Record<string, unknown>,
    allowNull: boolean,
  ) {
    checkMetaKeys(meta);
    const set = { meta: mergeMeta(previous.meta, meta, allowNull), updated: new Date() };
    return this.saveSimple(kind, previous, set);
  }

  async deleteMetadata<K extends 'folder' | 'item' | 'collection'>(
    kind: K,
    previous: K extends 'folder' ? FolderDoc : K extends 'item' ? ItemDoc : CollectionDoc,
    keys: string[],
  ) {
    const meta = { ...previous.meta };
    for (const key of keys) delete meta[key];
    return this.saveSimple(kind, previous, { meta, updated: new Date() });
  }

  /**
   * Sets the ACL of a folder or collection. With `recurse`, pushes it to every folder below on
   * which `mayAdminister` is true (Girder skips the others silently).
   */
  async setAccess<K extends 'folder' | 'collection'>(
    kind: K,
    previous: K extends 'folder' ? FolderDoc : CollectionDoc,
    access: AccessList,
    isPublic: boolean | undefined,
    recurse: { mayAdminister: (folder: FolderDoc) => boolean } | null,
  ) {
    const set: Partial<FolderDoc & CollectionDoc> = { access };
    if (isPublic !== undefined) set.public = isPublic;
    const saved = await this.saveSimple(kind, previous, set);
    if (recurse) {
      const queue: [ParentType, Types.ObjectId][] = [[kind, previous._id]];
      while (queue.length) {
        const [type, id] = queue.shift()!;
        for await (const child of this.folders.childrenOf(type, id)) {
          if (recurse.mayAdminister(child)) await this.saveSimple('folder', child, set);
          queue.push(['folder', child._id]);
        }
      }
    }
    return saved;
  }

  /** Marks a folder as mirrored by a directory (or not): plugins' mapped roots (home-dirs). */
  async setMapping(folder: FolderDoc, mapping: FolderDoc['mapping']): Promise<FolderDoc> {
    return this.saveSimple('folder', folder, { mapping });
  }

  /** Sets the Hatrac fields of a node (DESIGN §7: namespace, object or version state). */
  async setHatrac(kind: 'folder', previous: FolderDoc, hatrac: Record<string, unknown>): Promise<FolderDoc>;
  async setHatrac(kind: 'item', previous: ItemDoc, hatrac: Record<string, unknown>): Promise<ItemDoc>;
  async setHatrac(kind: 'file', previous: FileDoc, hatrac: Record<string, unknown>): Promise<FileDoc>;
  async setHatrac(kind: 'folder' | 'item' | 'file', previous: FolderDoc | ItemDoc | FileDoc, hatrac: Record<string, unknown>): Promise<FolderDoc | ItemDoc | FileDoc> {
    if (kind === 'file') return this.saveFile(previous as FileDoc, { hatrac, updated: new Date() });
    return this.saveSimple(kind, previous as FolderDoc, { hatrac }) as Promise<FolderDoc | ItemDoc>;
  }

  // ---------------------------------------------------------------- copies

  async copyItem(source: ItemDoc, target: FolderDoc, opts: { name?: string; description?: string; creator: UserDoc | null }): Promise<ItemDoc> {
    const copy = await this.createItem(
      target,
      { name: opts.name ?? source.name, description: opts.description ?? source.description, meta: { ...source.meta } },
      { allowRename: true, creator: opts.creator },
    );
    const withOrigin = (await this.items.update(copy._id, { copyOfItem: source._id })) ?? copy;
    // a copy that fails half-way is removed again: no partial copies are left behind
    await this.undoCopyOnFailure(() => this.deleteItem(withOrigin), async () => {
      await this.events.trigger('model.item.copy.prepare', { source, doc: withOrigin });
      for (const file of await this.files.ofItem(source._id)) await this.copyFile(file, withOrigin, opts.creator);
    });
    const result = (await this.items.findById(copy._id)) ?? withOrigin;
    await this.events.trigger('model.item.copy.after', { source, doc: result });
    return result;
  }

  async copyFile(source: FileDoc, target: ItemDoc, creator: UserDoc | null): Promise<FileDoc> {
    const adapter = await this.assetstores.adapter(source.assetstoreId);
    const copy = await adapter.copyFile(source, (bytes) =>
      this.createFile(target, { name: source.name, size: source.size, mimeType: source.mimeType, assetstoreId: source.assetstoreId, bytes }, creator),
    );
    await this.events.trigger('model.file.copy.after', { source, doc: copy });
    return copy;
  }

  async copyFolder(source: FolderDoc, parent: ParentRef, opts: { name?: string; description?: string; public?: boolean | 'original'; creator: UserDoc | null }): Promise<FolderDoc> {
    if (parent.type === 'folder') await this.assertNotInside(parent.doc, source);
    const copy = await this.createFolder(
      parent,
      {
        name: opts.name ?? source.name,
        description: opts.description ?? source.description,
        meta: { ...source.meta },
        public: opts.public === 'original' || opts.public === undefined ? source.public : opts.public,
      },
      { allowRename: true, creator: opts.creator },
    );
    await this.undoCopyOnFailure(() => this.deleteFolder(copy), async () => {
      await this.events.trigger('model.folder.copy.prepare', { source, doc: copy });
      for await (const child of this.folders.childrenOf('folder', source._id)) {
        await this.copyFolder(child, { type: 'folder', doc: copy }, { creator: opts.creator, public: opts.public });
      }
      for await (const item of this.items.inFolder(source._id)) await this.copyItem(item, copy, { creator: opts.creator });
    });
    const result = (await this.folders.findById(copy._id)) ?? copy;
    await this.events.trigger('model.folder.copy.after', { source, doc: result });
    return result;
  }

  private async undoCopyOnFailure(undo: () => Promise<void>, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      await undo().catch(() => {});
      throw err;
    }
  }

  // ---------------------------------------------------------------- reads the writes need

  folderById(id: Types.ObjectId): Promise<FolderDoc | null> {
    return this.folders.findById(id);
  }

  /** The folders from `folder`'s parent up to the root, nearest first. */
  async ancestors(folder: FolderDoc, known: Known = {}): Promise<FolderDoc[]> {
    if (folder.parentCollection !== 'folder') return [];
    return this.folders.chainFrom(folder.parentId, new Map(Array.from(known.folders ?? [], (f) => [String(f._id), f])));
  }

  // ---------------------------------------------------------------- event-driven upkeep

  /** A user's folders go with the user (DESIGN §3). */
  @OnEvent('model.user.remove', 'tree.removeUserFolders')
  async onUserRemove(event: AppEvent<UserDoc>): Promise<void> {
    for await (const folder of this.folders.childrenOf('user', event.info._id)) await this.deleteFolder(folder);
  }

  /** New users get Girder's default folders: a public one and a private one. */
  @OnEvent('model.user.save.created', 'tree.addDefaultFolders')
  async onUserCreated(event: AppEvent<UserDoc>): Promise<void> {
    const user = event.info;
    const parent: ParentRef = { type: 'user', doc: user };
    await this.createFolder(parent, { name: 'Public', public: true }, { creator: user, reuseExisting: true });
    await this.createFolder(parent, { name: 'Private', public: false }, { creator: user, reuseExisting: true });
  }

  // ---------------------------------------------------------------- internals

  private baseOf(parent: ParentRef): { type: BaseParentType; id: Types.ObjectId } {
    if (parent.type === 'folder') return { type: parent.doc.baseParentType, id: parent.doc.baseParentId };
    return { type: parent.type, id: parent.doc._id };
  }

  /** New folders copy a folder or collection parent's ACL; under a user, that user owns them. */
  private initialAccess(parent: ParentRef, creator: UserDoc | null, isPublic: boolean | undefined): { access: AccessList; public: boolean } {
    const access: AccessList = { users: [], groups: [] };
    let inherited = false;
    if (parent.type !== 'user') {
      access.users.push(...parent.doc.access.users.map((e) => ({ ...e })));
      access.groups.push(...parent.doc.access.groups.map((e) => ({ ...e })));
      inherited = parent.doc.public;
    } else {
      access.users.push({ id: parent.doc._id, level: AccessLevel.ADMIN });
    }
    if (creator) {
      const own = access.users.find((e) => sameId(e.id, creator._id));
      if (own) own.level = AccessLevel.ADMIN;
      else access.users.push({ id: creator._id, level: AccessLevel.ADMIN });
    }
    return { access, public: isPublic ?? inherited };
  }

  /**
   * Takes the node's name in its parent. On a clash: `allowRename` tries `name (1)`, `name (2)`…;
   * `resolveExisting` may hand back the existing node (reuseExisting), reported as a ConflictError
   * carrying it; otherwise 409.
   */
  private async reserveName(
    doc: FolderDoc | ItemDoc,
    kind: 'folder' | 'item',
    parentType: ParentType,
    parentId: Types.ObjectId,
    opts: CreateOptions,
    resolveExisting: (kind: 'folder' | 'item', id: Types.ObjectId) => Promise<FolderDoc | ItemDoc | null>,
  ): Promise<void> {
    const base = doc.name;
    for (let n = 0; n < MAX_RENAME_ATTEMPTS; n++) {
      const name = numberedName(base, n);
      if (Buffer.byteLength(name, 'utf8') > 255) break;
      const key = nameKey(parentType, parentId, lowerNameOf(name));
      if (await this.names.reserve(key, kind, doc._id)) {
        doc.name = name;
        doc.lowerName = lowerNameOf(name);
        return;
      }
      const holder = await this.names.find(key);
      if (holder && isStale(holder.created) && !(await this.holderExists(holder.kind, holder.nodeId))) {
        // a reservation left by a crash between its two steps: take it over (a recent one without
        // its node is a create in progress, between its two steps: taking it would let both win)
        await this.names.release(key, holder.nodeId);
        n--;
        continue;
      }
      if (n === 0 && holder) {
        const existing = await resolveExisting(holder.kind, holder.nodeId);
        if (existing) throw new ExistingNode(existing);
      }
      if (!opts.allowRename) throw new ConflictError(`A ${holder?.kind ?? 'folder or item'} named "${name}" already exists here.`, 'name');
    }
    throw new ConflictError(`No free name like "${base}" is left here.`, 'name');
  }

  private async holderExists(kind: 'folder' | 'item', id: Types.ObjectId): Promise<boolean> {
    return Boolean(kind === 'folder' ? await this.folders.findById(id) : await this.items.findById(id));
  }

  private async insertNode<T extends FolderDoc | ItemDoc>(doc: T, kind: 'folder' | 'item', parentType: ParentType, parentId: Types.ObjectId, parent: FolderDoc | undefined): Promise<T> {
    const key = nameKey(parentType, parentId, doc.lowerName);
    let saved: T;
    try {
      await this.vetoable(`model.${kind}.save` as 'model.folder.save', { doc: doc as FolderDoc, parent });
      saved = (kind === 'folder' ? await this.folders.insert(doc as FolderDoc) : await this.items.insert(doc as ItemDoc)) as T;
    } catch (err) {
      await this.names.release(key, doc._id);
      if (isDuplicateKeyError(err)) throw new ConflictError(`${kind === 'item' ? 'An item' : 'A folder'} named "${doc.name}" already exists here.`, 'name');
      throw err;
    }
    await this.events.trigger(`model.${kind}.save.created` as 'model.folder.save.created', saved as FolderDoc);
    await this.events.trigger(`model.${kind}.save.after` as 'model.folder.save.after', { doc: saved as FolderDoc, parent });
    return saved;
  }

  /** Saves a folder or item update; a changed name or parent takes the new name first. */
  private async saveWithName<T extends FolderDoc | ItemDoc>(
    doc: T,
    previous: T,
    kind: 'folder' | 'item',
    set: Partial<T>,
    write: () => Promise<T | null>,
    parent: FolderDoc | undefined,
  ): Promise<T> {
    const parentType = (kind === 'folder' ? (doc as FolderDoc).parentCollection : 'folder') as ParentType;
    const parentId = kind === 'folder' ? (doc as FolderDoc).parentId : (doc as ItemDoc).folderId;
    const oldParentType = (kind === 'folder' ? (previous as FolderDoc).parentCollection : 'folder') as ParentType;
    const oldParentId = kind === 'folder' ? (previous as FolderDoc).parentId : (previous as ItemDoc).folderId;
    const newKey = nameKey(parentType, parentId, doc.lowerName);
    const oldKey = nameKey(oldParentType, oldParentId, previous.lowerName);
    const renamed = newKey !== oldKey;
    if (renamed) {
      await this.reserveName(doc, kind, parentType, parentId, {}, async () => null);
      (set as Partial<FolderDoc>).name = doc.name;
      (set as Partial<FolderDoc>).lowerName = doc.lowerName;
    }
    let saved: T | null;
    try {
      await this.vetoable(`model.${kind}.save` as 'model.folder.save', { doc: doc as FolderDoc, previous: previous as FolderDoc, parent });
      saved = await write();
    } catch (err) {
      if (renamed) await this.names.release(newKey, doc._id);
      if (isDuplicateKeyError(err)) throw new ConflictError(`${kind === 'item' ? 'An item' : 'A folder'} named "${doc.name}" already exists here.`, 'name');
      throw err;
    }
    if (!saved) {
      if (renamed) await this.names.release(newKey, doc._id);
      throw new NotFoundError(`${kind === 'folder' ? 'Folder' : 'Item'} not found: ${previous._id}`);
    }
    if (renamed) await this.names.release(oldKey, previous._id);
    await this.events.trigger(`model.${kind}.save.after` as 'model.folder.save.after', { doc: saved as FolderDoc, previous: previous as FolderDoc, parent });
    return saved;
  }

  /** Saves fields that do not touch names or parents (metadata, access). */
  private async saveSimple(kind: 'folder' | 'item' | 'collection', previous: FolderDoc | ItemDoc | CollectionDoc, set: Record<string, unknown>) {
    const doc = { ...previous, ...set };
    await this.vetoable(`model.${kind}.save` as 'model.folder.save', { doc: doc as FolderDoc, previous: previous as FolderDoc });
    const saved =
      kind === 'folder'
        ? await this.folders.update(previous._id, set)
        : kind === 'item'
          ? await this.items.update(previous._id, set)
          : await this.collections.update(previous._id, set);
    if (!saved) throw new NotFoundError(`Not found: ${previous._id}`);
    await this.events.trigger(`model.${kind}.save.after` as 'model.folder.save.after', { doc: saved as FolderDoc, previous: previous as FolderDoc });
    return saved as never;
  }

  private async saveFile(previous: FileDoc, set: Partial<FileDoc>): Promise<FileDoc> {
    await this.vetoable('model.file.save', { doc: { ...previous, ...set }, previous });
    const saved = await this.files.update(previous._id, set);
    if (!saved) throw new NotFoundError(`File not found: ${previous._id}`);
    await this.events.trigger('model.file.save.after', { doc: saved, previous });
    return saved;
  }

  /** Triggers a vetoable event: preventDefault (or a thrown error) aborts the write. */
  private async vetoable<K extends Parameters<EventBus['trigger']>[0]>(name: K, info: Parameters<EventBus['trigger']>[1] & object): Promise<void> {
    const event = await this.events.trigger(name, info as never);
    if (event.defaultPrevented) throw new ConflictError(`The server refused this change (${name}).`);
  }

  /** The item of a file: the one the caller knows, else read. */
  private async itemOf(file: FileDoc, known: Known): Promise<ItemDoc | null> {
    return known.item && sameId(known.item._id, file.itemId) ? known.item : this.items.findById(file.itemId);
  }

  private async assertNotInside(target: FolderDoc, moved: FolderDoc, known: Known = {}): Promise<void> {
    if (sameId(target._id, moved._id)) throw new ValidationError('A folder cannot be moved or copied into itself.', 'parentId');
    for (const ancestor of await this.ancestors(target, known)) {
      if (sameId(ancestor._id, moved._id)) throw new ValidationError('A folder cannot be moved or copied into its own subtree.', 'parentId');
    }
  }

  private async subtreeFolderIds(root: FolderDoc): Promise<Types.ObjectId[]> {
    const ids: Types.ObjectId[] = [root._id];
    for (let i = 0; i < ids.length; i++) {
      for await (const child of this.folders.childrenOf('folder', ids[i])) ids.push(child._id);
    }
    return ids;
  }

  /** Deletes a subtree inside a folder that is itself being deleted: events, no size updates. */
  private async deleteSubtreeQuietly(folder: FolderDoc): Promise<void> {
    await this.vetoable('model.folder.remove', folder);
    await this.deleteFolderContents(folder, false);
    await this.folders.delete(folder._id);
    await this.names.release(nameKey(folder.parentCollection, folder.parentId, folder.lowerName), folder._id);
    await this.events.trigger('model.folder.remove.after', folder);
  }
}

/** Thrown by a create with `reuseExisting` when the name belongs to a node it may reuse. */
export class ExistingNode extends Error {
  constructor(readonly node: FolderDoc | ItemDoc) {
    super('existing node');
  }
}

function baseOf(node: { baseParentType: BaseParentType; baseParentId: Types.ObjectId }): { type: BaseParentType; id: Types.ObjectId } {
  return { type: node.baseParentType, id: node.baseParentId };
}

/** A file of `delta` bytes more (or less) in an item: the item, its folder and everything above. */
function fileSizeChange(item: ItemDoc, delta: number): SizeChange {
  return { folderId: item.folderId, itemId: item._id, base: baseOf(item), delta };
}

function knownFolder(known: Known, id: Types.ObjectId): FolderDoc | undefined {
  for (const folder of known.folders ?? []) if (sameId(folder._id, id)) return folder;
  return undefined;
}

function withParent(folders: Iterable<FolderDoc> | undefined, parent: FolderDoc | undefined): FolderDoc[] {
  return [...(folders ?? []), ...(parent ? [parent] : [])];
}

/** The fields a rename or edit changes on a folder or item: name (and lowerName), description, metadata. */
function editedFields(previous: { meta: Record<string, unknown> }, changes: { name?: string; description?: string; meta?: Record<string, unknown> }) {
  const set: { updated: Date; name?: string; lowerName?: string; description?: string; meta?: Record<string, unknown> } = { updated: new Date() };
  if (changes.name !== undefined) {
    set.name = cleanName(changes.name);
    set.lowerName = lowerNameOf(set.name);
  }
  if (changes.description !== undefined) set.description = changes.description.trim();
  if (changes.meta) {
    checkMetaKeys(changes.meta);
    set.meta = mergeMeta(previous.meta, changes.meta, false);
  }
  return set;
}

function mergeMeta(meta: Record<string, unknown>, changes: Record<string, unknown>, allowNull: boolean): Record<string, unknown> {
  const out = { ...meta };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null && !allowNull) delete out[key];
    else out[key] = value;
  }
  return out;
}

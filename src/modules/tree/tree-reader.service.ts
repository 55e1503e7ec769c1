import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { AuthenticationError, NotFoundError, ValidationError } from '../../common/errors';
import { Paging } from '../../common/params';
import { RequestContext } from '../../common/request-context';
import { AccessLevel } from '../access/access-level';
import { AccessService } from '../access/access.service';
import type { UserDoc } from '../users/user.schema';
import { UsersRepository } from '../users/users.repository';
import { CollectionsRepository } from './repositories/collections.repository';
import { FilesRepository } from './repositories/files.repository';
import { ChildFilter, FoldersRepository } from './repositories/folders.repository';
import { ItemsRepository } from './repositories/items.repository';
import { CollectionDoc } from './schemas/collection.schema';
import { ParentType } from './schemas/common';
import { FileDoc } from './schemas/file.schema';
import { FolderDoc } from './schemas/folder.schema';
import { ItemDoc } from './schemas/item.schema';
import { ParentRef } from './tree.types';

/**
 * Reads of the tree with access applied, for every surface: each `load*` fetches a node and asks
 * AccessService whether the current user has the level, following Girder's rule that items and
 * files take the access of their folder. Listings filter by access in the database query.
 */
@Injectable()
export class TreeReader {
  constructor(
    private readonly access: AccessService,
    private readonly collections: CollectionsRepository,
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly files: FilesRepository,
    private readonly users: UsersRepository,
  ) {}

  async loadCollection(id: Types.ObjectId, level: AccessLevel): Promise<CollectionDoc> {
    const collection = await this.collections.findById(id);
    if (!collection) throw new NotFoundError(`Collection not found: ${id}`);
    this.access.require(collection, this.user(), level, 'collection');
    return collection;
  }

  async loadFolder(id: Types.ObjectId, level: AccessLevel): Promise<FolderDoc> {
    const folder = await this.folders.findById(id);
    if (!folder) throw new NotFoundError(`Folder not found: ${id}`);
    this.access.require(folder, this.user(), level, 'folder');
    return folder;
  }

  async loadItem(id: Types.ObjectId, level: AccessLevel): Promise<{ item: ItemDoc; folder: FolderDoc }> {
    const item = await this.items.findById(id);
    if (!item) throw new NotFoundError(`Item not found: ${id}`);
    const folder = await this.folders.findById(item.folderId);
    if (!folder) throw new NotFoundError(`Item not found: ${id}`);
    this.access.require(folder, this.user(), level, 'item');
    return { item, folder };
  }

  async loadFile(id: Types.ObjectId, level: AccessLevel): Promise<{ file: FileDoc; item: ItemDoc; folder: FolderDoc }> {
    const file = await this.files.findById(id);
    if (!file) throw new NotFoundError(`File not found: ${id}`);
    const { item, folder } = await this.loadItem(file.itemId, level).catch((err) => {
      if (err instanceof NotFoundError) throw new NotFoundError(`File not found: ${id}`);
      throw err;
    });
    return { file, item, folder };
  }

  async loadUser(id: Types.ObjectId, level: AccessLevel): Promise<UserDoc> {
    const target = await this.users.findById(id);
    if (!target) throw new NotFoundError(`User not found: ${id}`);
    const user = this.user();
    if (level >= AccessLevel.WRITE) this.access.requireSelfOrAdmin(target, user);
    else if (!user) throw new AuthenticationError();
    return target;
  }

  /** A parent named by type and id, checked for `level` (WRITE to add children, READ to list). */
  async loadParent(type: string | undefined, id: Types.ObjectId, level: AccessLevel): Promise<ParentRef> {
    switch (type ?? 'folder') {
      case 'folder':
        return { type: 'folder', doc: await this.loadFolder(id, level) };
      case 'collection':
        return { type: 'collection', doc: await this.loadCollection(id, level) };
      case 'user':
        return { type: 'user', doc: await this.loadUser(id, level) };
      default:
        throw new ValidationError('parentType must be folder, collection or user.', 'parentType');
    }
  }

  levelOf(doc: CollectionDoc | FolderDoc): AccessLevel {
    return this.access.levelOf(doc, this.user());
  }

  /** Child folders of a parent the caller can read, filtered by access in the query. */
  async listFolders(parent: ParentRef, page: Paging, by: ChildFilter = {}) {
    return this.folders.listChildren(parent.type as ParentType, parent.doc._id, this.access.filterFor(this.user(), AccessLevel.READ), page, by);
  }

  listItems(folder: FolderDoc, page: Paging, by: ChildFilter = {}) {
    return this.items.list(folder._id, page, by);
  }

  /**
   * `loadFolder(folderId, READ)` then `listItems`, in the time of the slower of the two: the page and
   * its total are queried while the folder is loaded and checked, and dropped unanswered when that
   * check fails (the errors are loadFolder's). `level` is the caller's level on the folder.
   */
  async listFolderItems(folderId: Types.ObjectId, page: Paging, by: ChildFilter = {}): Promise<{ folder: FolderDoc; level: AccessLevel; docs: ItemDoc[]; total: number }> {
    const listing = this.items.list(folderId, page, by);
    listing.catch(() => undefined); // awaited below unless the folder check throws first
    const folder = await this.loadFolder(folderId, AccessLevel.READ);
    const { docs, total } = await listing;
    return { folder, level: this.levelOf(folder), docs, total };
  }

  /**
   * `loadParent(type, id, READ)` then `listFolders`, concurrently as `listFolderItems` does: the
   * listing's access filter depends on the caller only, not on the parent.
   */
  async listChildFolders(type: string | undefined, id: Types.ObjectId, page: Paging, by: ChildFilter = {}): Promise<{ parent: ParentRef; docs: FolderDoc[]; total: number }> {
    const parentType = type ?? 'folder';
    if (parentType !== 'folder' && parentType !== 'collection' && parentType !== 'user') {
      const parent = await this.loadParent(type, id, AccessLevel.READ); // refuses the type
      return { parent, ...(await this.listFolders(parent, page, by)) };
    }
    const listing = this.folders.listChildren(parentType, id, this.access.filterFor(this.user(), AccessLevel.READ), page, by);
    listing.catch(() => undefined);
    const parent = await this.loadParent(parentType, id, AccessLevel.READ);
    const { docs, total } = await listing;
    return { parent, docs, total };
  }

  /**
   * The caller's level on each item (its folder's level, as items follow their folder), in order:
   * for listings that mix folders, such as a search. One query for the folders' ACLs.
   */
  async itemLevels(items: ItemDoc[]): Promise<AccessLevel[]> {
    const user = this.user();
    if (user?.admin) return items.map(() => AccessLevel.ADMIN);
    if (!items.length) return [];
    const ids = [...new Map(items.map((i) => [String(i.folderId), i.folderId])).values()];
    const acls = new Map((await this.folders.accessOf(ids)).map((f) => [String(f._id), f]));
    return items.map((i) => {
      const acl = acls.get(String(i.folderId));
      return acl ? this.access.levelOf(acl, user) : AccessLevel.NONE;
    });
  }

  listFiles(item: ItemDoc, page: Paging) {
    return this.files.listForItem(item._id, page);
  }

  listCollections(text: string | undefined, page: Paging) {
    return this.collections.list(this.access.filterFor(this.user(), AccessLevel.READ), text, page);
  }

  /** Folders and items matching a name pattern, among those the caller can read. */
  async search(pattern: RegExp, types: string[], page: Paging) {
    const visible = this.access.filterFor(this.user(), AccessLevel.READ);
    const out: { folder?: FolderDoc[]; item?: ItemDoc[]; collection?: CollectionDoc[] } = {};
    if (types.includes('collection')) out.collection = (await this.collections.list(visible, pattern, page)).docs;
    if (types.includes('folder')) out.folder = await this.folders.search(visible, pattern, page);
    if (types.includes('item')) out.item = await this.items.search(this.access.filterFor(this.user(), AccessLevel.READ, '__folder.'), pattern, page);
    return out;
  }

  async details(folder: FolderDoc): Promise<{ nFolders: number; nItems: number }> {
    const [{ total: nFolders }, nItems] = await Promise.all([
      this.listFolders({ type: 'folder', doc: folder }, { limit: 1, offset: 0, sort: { _id: 1 } }),
      this.items.countInFolder(folder._id),
    ]);
    return { nFolders, nItems };
  }

  /** Ancestors of a folder from the root down, each with its type (Girder's `rootpath`). */
  async rootpath(folder: FolderDoc): Promise<{ type: string; object: UserDoc | CollectionDoc | FolderDoc }[]> {
    const chain: { type: string; object: UserDoc | CollectionDoc | FolderDoc }[] = [];
    let current = folder;
    while (current.parentCollection === 'folder') {
      const parent = await this.folders.findById(current.parentId);
      if (!parent) break;
      chain.unshift({ type: 'folder', object: parent });
      current = parent;
    }
    const root = current.parentCollection === 'user' ? await this.users.findById(current.parentId) : await this.collections.findById(current.parentId);
    if (root) chain.unshift({ type: current.parentCollection, object: root });
    return chain;
  }

  user(): UserDoc | null {
    return RequestContext.user();
  }
}

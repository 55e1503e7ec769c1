import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Types } from 'mongoose';
import type { StoredBytes } from '../../assetstores/assetstore';
import { ConflictError } from '../../common/errors';
import { RequestContext } from '../../common/request-context';
import { AccessEntry, AccessLevel } from '../access/access-level';
import { AccessService, sameId } from '../access/access.service';
import { AppConfig } from '../config/app-config';
import type { AppEvent } from '../events/event-bus';
import type { SaveInfo } from '../events/event-map';
import { OnEvent } from '../events/on-event.decorator';
import { CollectionsRepository } from '../tree/repositories/collections.repository';
import { FilesRepository } from '../tree/repositories/files.repository';
import { FoldersRepository } from '../tree/repositories/folders.repository';
import { ItemsRepository } from '../tree/repositories/items.repository';
import type { CollectionDoc } from '../tree/schemas/collection.schema';
import type { FileDoc } from '../tree/schemas/file.schema';
import type { FolderDoc } from '../tree/schemas/folder.schema';
import type { ItemDoc } from '../tree/schemas/item.schema';
import { TreeService } from '../tree/tree.service';
import type { ParentRef } from '../tree/tree.types';
import { GroupsRepository } from '../users/groups.repository';
import type { UserDoc } from '../users/user.schema';
import { UsersRepository } from '../users/users.repository';
import { Acl, inherit, NameAcl } from './hatrac-acl';
import { HatracDirectory } from './hatrac-directory';
import { displayName, lastSegment, ROOT } from './hatrac-url';
import { HatracNameDoc, HatracVersionInfo } from './hatrac.schema';

export const HATRAC_COLLECTION = 'hatrac';
/** Items cannot sit directly in a collection: objects of the root namespace live in this folder. */
const ROOT_OBJECTS_FOLDER = 'Objects at the root';

/**
 * Hatrac over the tree (DESIGN §7): the root namespace is the collection `hatrac`, namespaces are
 * folders, objects items, versions files. Every change goes through TreeService with origin
 * `hatrac`; changes to these nodes from any other surface are refused, so the directory and the
 * tree cannot disagree. Girder access levels on the nodes are derived from the Hatrac ACLs.
 */
@Injectable()
export class HatracTree implements OnApplicationBootstrap {
  private collectionId: Types.ObjectId | null = null;

  constructor(
    private readonly tree: TreeService,
    private readonly directory: HatracDirectory,
    private readonly collections: CollectionsRepository,
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly files: FilesRepository,
    private readonly users: UsersRepository,
    private readonly groups: GroupsRepository,
    private readonly access: AccessService,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const collection = await asHatrac(() => this.ensureCollection());
    this.collectionId = collection._id;
    if (!(await this.directory.find(ROOT))) await this.directory.create({ _id: ROOT, kind: 'namespace', nodeId: collection._id, acl: {} });
    await this.deriveAccess(ROOT); // the configured root owners may have changed
  }

  /** The root's ACL as it applies: its stored `owner` plus the configured root owners. */
  rootAcl(stored: Acl): Acl {
    return { ...stored, owner: [...new Set([...(stored.owner ?? []), ...this.config.hatrac.rootOwners])] };
  }

  // ---------------------------------------------------------------- nodes

  async createNamespace(parent: HatracNameDoc, name: string, creator: UserDoc | null): Promise<FolderDoc> {
    return asHatrac(async () => {
      const folder = await this.tree.createFolder(await this.parentRef(parent), { name: displayName(lastSegment(name)), hatrac: { kind: 'namespace', name } }, { allowRename: true, creator });
      return folder;
    });
  }

  async createObject(parent: HatracNameDoc, name: string, creator: UserDoc | null): Promise<ItemDoc> {
    return asHatrac(async () => {
      const folder = parent._id === ROOT ? await this.rootObjectsFolder(creator) : await this.folderOf(parent);
      return this.tree.createItem(folder, { name: displayName(lastSegment(name)), hatrac: { kind: 'object', name } }, { allowRename: true, creator });
    });
  }

  /** Removes a name's node (a namespace's folder with everything below it). */
  async deleteNode(doc: HatracNameDoc): Promise<void> {
    if (!doc.nodeId) return;
    await asHatrac(async () => {
      if (doc.kind === 'namespace') {
        const folder = await this.folders.findById(doc.nodeId!);
        if (folder) await this.tree.deleteFolder(folder);
      } else {
        const item = await this.items.findById(doc.nodeId!);
        if (item) await this.tree.deleteItem(item);
      }
    });
  }

  itemOf(doc: HatracNameDoc): Promise<ItemDoc | null> {
    return doc.nodeId ? this.items.findById(doc.nodeId) : Promise.resolve(null);
  }

  // ---------------------------------------------------------------- versions

  /** The versions of an object, newest first. */
  async versions(item: ItemDoc): Promise<(FileDoc & { hatrac: HatracVersionInfo })[]> {
    const files = (await this.files.ofItem(item._id)).filter((f) => f.hatrac?.version) as (FileDoc & { hatrac: HatracVersionInfo })[];
    return files.sort((a, b) => b.hatrac.serial - a.hatrac.serial);
  }

  addVersion(item: ItemDoc, input: { size: number; assetstoreId: Types.ObjectId; bytes: StoredBytes; info: HatracVersionInfo }, creator: UserDoc | null): Promise<FileDoc> {
    const mimeType = input.info.metadata['content-type'] ?? 'application/octet-stream';
    return asHatrac(() =>
      this.tree.createFile(item, { name: item.name, size: input.size, mimeType, assetstoreId: input.assetstoreId, bytes: input.bytes, hatrac: { ...input.info } }, creator),
    );
  }

  /** A version recorded on another object sharing these bytes (a rename target). */
  copyVersion(source: FileDoc, target: ItemDoc, info: HatracVersionInfo, creator: UserDoc | null): Promise<FileDoc> {
    return asHatrac(async () => {
      const copy = await this.tree.copyFile(source, target, creator);
      return this.tree.setHatrac('file', copy, { ...info });
    });
  }

  setVersionInfo(file: FileDoc, info: HatracVersionInfo): Promise<FileDoc> {
    return asHatrac(async () => {
      const saved = await this.tree.setHatrac('file', file, { ...info });
      const mimeType = info.metadata['content-type'] ?? 'application/octet-stream';
      return saved.mimeType === mimeType ? saved : this.tree.updateFile(saved, { mimeType });
    });
  }

  deleteVersion(file: FileDoc): Promise<void> {
    return asHatrac(() => this.tree.deleteFile(file));
  }

  // ---------------------------------------------------------------- derived Girder access

  /**
   * Recomputes the Girder access of a namespace's node and of every namespace below it (their
   * inherited ACLs depend on it). A role gets READ where it may list the namespace and read what
   * is inside (or owns it, and so may grant itself that), WRITE where it may also create, ADMIN
   * where it owns it: never more than Hatrac would allow.
   */
  async deriveAccess(name: string, opts: { below: boolean } = { below: true }): Promise<void> {
    const chain = await this.directory.withAncestors(name);
    if (!chain.doc || chain.doc.deleted) return;
    const below = opts.below ? (await this.directory.liveDescendants(name)).filter((d) => d.kind === 'namespace').reverse() : [];
    const acls = new Map<string, Acl>();
    for (const a of chain.ancestors) if (a) acls.set(a._id, a._id === ROOT ? this.rootAcl(a.acl) : a.acl);
    for (const doc of [chain.doc, ...below]) {
      acls.set(doc._id, doc._id === ROOT ? this.rootAcl(doc.acl) : doc.acl);
      const ancestors = [...acls.entries()].filter(([n]) => n !== doc._id && isAncestor(n, doc._id)).map(([, acl]) => acl);
      await this.applyAccess(doc, { own: acls.get(doc._id)!, inherited: inherit(ancestors) });
    }
  }

  private async applyAccess(doc: HatracNameDoc, acl: NameAcl): Promise<void> {
    const levels = new Map<string, AccessLevel>();
    const grant = (roles: string[] | undefined, level: AccessLevel, when: (role: string) => boolean = () => true) => {
      for (const role of roles ?? []) if (when(role) && (levels.get(role) ?? AccessLevel.NONE) < level) levels.set(role, level);
    };
    const inList = (lists: (string[] | undefined)[]) => (role: string) => lists.some((l) => l?.includes(role));
    const mayList = inList([acl.own.owner, acl.own.read, acl.inherited.owner, acl.inherited.read]);
    const owners = [...(acl.own.owner ?? []), ...acl.inherited.owner];
    grant([...(acl.own['subtree-read'] ?? []), ...acl.inherited.read], AccessLevel.READ, mayList);
    grant([...(acl.own.create ?? []), ...acl.inherited.create], AccessLevel.WRITE, (r) => levels.has(r));
    grant(owners, AccessLevel.ADMIN);

    const users: AccessEntry[] = [];
    const groups: AccessEntry[] = [];
    for (const [role, level] of levels) {
      if (role.startsWith('g:')) {
        const group = await this.groups.findByName(role.slice(2));
        if (group) groups.push({ id: group._id, level });
      } else if (role !== '*') {
        const user = await this.users.findByLogin(role);
        if (user) users.push({ id: user._id, level });
      }
    }
    const isPublic = levels.has('*');
    await asHatrac(async () => {
      if (doc._id === ROOT) {
        const collection = await this.collections.findById(this.collectionId!);
        if (collection) await this.tree.setAccess('collection', collection, { users, groups }, isPublic, null);
        const holder = await this.folders.findChild('collection', this.collectionId!, ROOT_OBJECTS_FOLDER.toLowerCase());
        if (holder) await this.tree.setAccess('folder', holder, { users, groups }, isPublic, null);
      } else if (doc.nodeId) {
        const folder = await this.folders.findById(doc.nodeId);
        if (folder) await this.tree.setAccess('folder', folder, { users, groups }, isPublic, null);
      }
    });
  }

  /** A user or group named in ACLs before it existed gets its derived access now. */
  @OnEvent('model.user.save.created', 'hatrac.userCreated')
  async onUserCreated(event: AppEvent<UserDoc>): Promise<void> {
    await this.rederiveFor(event.info.login);
  }

  @OnEvent('model.group.save.created', 'hatrac.groupCreated')
  async onGroupCreated(event: AppEvent<{ name: string }>): Promise<void> {
    await this.rederiveFor(`g:${event.info.name}`);
  }

  private async rederiveFor(role: string): Promise<void> {
    for (const name of await this.directory.namespacesNaming(role)) await this.deriveAccess(name);
  }

  // ---------------------------------------------------------------- other surfaces

  @OnEvent('model.collection.save', 'hatrac.guardCollection')
  onCollectionSave(event: AppEvent<SaveInfo<CollectionDoc>>): void {
    if (this.guarded() && sameId(event.info.previous?._id, this.collectionId)) this.refuse();
  }

  @OnEvent('model.collection.remove', 'hatrac.guardCollectionRemove')
  onCollectionRemove(event: AppEvent<CollectionDoc>): void {
    if (this.guarded() && sameId(event.info._id, this.collectionId)) this.refuse();
  }

  @OnEvent('model.folder.save', 'hatrac.guardFolder')
  onFolderSave(event: AppEvent<SaveInfo<FolderDoc | ItemDoc>>): void {
    const { doc, previous } = event.info;
    if (this.inHatrac(doc) || (previous && this.inHatrac(previous))) this.refuse();
  }

  @OnEvent('model.item.save', 'hatrac.guardItem')
  onItemSave(event: AppEvent<SaveInfo<ItemDoc>>): void {
    this.onFolderSave(event as AppEvent<SaveInfo<FolderDoc | ItemDoc>>);
  }

  @OnEvent('model.folder.remove', 'hatrac.guardFolderRemove')
  onFolderRemove(event: AppEvent<FolderDoc>): void {
    if (this.inHatrac(event.info)) this.refuse();
  }

  @OnEvent('model.item.remove', 'hatrac.guardItemRemove')
  onItemRemove(event: AppEvent<ItemDoc>): void {
    if (this.inHatrac(event.info)) this.refuse();
  }

  @OnEvent('model.file.save', 'hatrac.guardFile')
  async onFileSave(event: AppEvent<SaveInfo<FileDoc>>): Promise<void> {
    if (!this.guarded()) return;
    const item = await this.items.findById(event.info.doc.itemId);
    if ((item && this.inHatrac(item)) || event.info.previous?.hatrac) this.refuse();
  }

  @OnEvent('model.file.remove', 'hatrac.guardFileRemove')
  async onFileRemove(event: AppEvent<FileDoc>): Promise<void> {
    if (!this.guarded()) return;
    const item = await this.items.findById(event.info.itemId);
    if (event.info.hatrac || (item && this.inHatrac(item))) this.refuse();
  }

  /** Writes that could touch Hatrac nodes: not Hatrac's own, and not WebDAV's (which stay in mapped folders). */
  private guarded(): boolean {
    const origin = RequestContext.origin();
    return origin !== 'hatrac' && origin !== 'system' && origin !== 'dav';
  }

  private inHatrac(node: { baseParentId?: Types.ObjectId; hatrac?: Record<string, unknown> | null }): boolean {
    return this.guarded() && (Boolean(node.hatrac) || sameId(node.baseParentId, this.collectionId));
  }

  private refuse(): never {
    throw new ConflictError('Hatrac namespaces, objects and versions change only through /hatrac (their ACLs decide who may).');
  }

  // ---------------------------------------------------------------- helpers

  private async ensureCollection(): Promise<CollectionDoc> {
    const existing = await this.collections.findByName(HATRAC_COLLECTION);
    if (existing) return existing;
    return this.tree.createCollection({ name: HATRAC_COLLECTION, description: 'Hatrac object store (/hatrac): namespaces, objects and their versions.', public: false }, null);
  }

  private async parentRef(parent: HatracNameDoc): Promise<ParentRef> {
    if (parent._id === ROOT) {
      const collection = await this.collections.findById(this.collectionId!);
      if (!collection) throw new Error('the hatrac collection is missing');
      return { type: 'collection', doc: collection };
    }
    return { type: 'folder', doc: await this.folderOf(parent) };
  }

  private async folderOf(doc: HatracNameDoc): Promise<FolderDoc> {
    const folder = doc.nodeId ? await this.folders.findById(doc.nodeId) : null;
    if (!folder) throw new Error(`the folder of Hatrac namespace ${doc._id} is missing`);
    return folder;
  }

  private async rootObjectsFolder(creator: UserDoc | null): Promise<FolderDoc> {
    const existing = await this.folders.findChild('collection', this.collectionId!, ROOT_OBJECTS_FOLDER.toLowerCase());
    if (existing) return existing;
    const folder = await this.tree.createFolder(
      await this.parentRef({ _id: ROOT } as HatracNameDoc),
      { name: ROOT_OBJECTS_FOLDER, description: 'Objects of the root namespace /.', hatrac: { kind: 'root-objects' } },
      { reuseExisting: true, creator },
    );
    await this.deriveAccess(ROOT);
    return folder;
  }
}

function isAncestor(ancestor: string, name: string): boolean {
  return ancestor === ROOT ? name !== ROOT : name.startsWith(`${ancestor}/`);
}

/** Runs a tree write as Hatrac, so the guards above let it through. */
function asHatrac<T>(fn: () => Promise<T>): Promise<T> {
  const current = RequestContext.current();
  return RequestContext.run({ ...current, origin: 'hatrac' }, fn);
}

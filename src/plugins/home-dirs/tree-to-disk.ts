import { Injectable } from '@nestjs/common';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Types } from 'mongoose';
import { AssetstoresService } from '../../assetstores/assetstores.service';
import { ConflictError } from '../../common/errors';
import { RequestContext } from '../../common/request-context';
import { sameId } from '../../modules/access/access.service';
import { AppEvent } from '../../modules/events/event-bus';
import { SaveInfo } from '../../modules/events/event-map';
import { OnEvent } from '../../modules/events/on-event.decorator';
import { FilesRepository } from '../../modules/tree/repositories/files.repository';
import { FoldersRepository } from '../../modules/tree/repositories/folders.repository';
import { ItemsRepository } from '../../modules/tree/repositories/items.repository';
import { FileDoc } from '../../modules/tree/schemas/file.schema';
import { FolderDoc } from '../../modules/tree/schemas/folder.schema';
import { ItemDoc } from '../../modules/tree/schemas/item.schema';
import type { NodeSaveInfo, UploadInfo } from '../../modules/tree/tree-events';
import { TreeService } from '../../modules/tree/tree.service';
import { placeStream, tempBeside } from './temp-files';
import { Realms } from './realms';

/**
 * Tree → disk (DESIGN §8): for a folder or item inside a mapped folder, the same change is made on
 * disk *before* the tree write commits; if the disk step fails the write is aborted and the client
 * gets the error. Writes that came from WebDAV or reconciliation already happened on disk and are
 * skipped (their origin says so): no loops, no marker fields.
 *
 * Rules: an item of a mapped folder is one file on disk named like the item (a new item is an
 * empty file); its file record holds the size and type. Moves and copies across the edge of a
 * mapped folder change the bytes' store: moving in writes the subtree to disk before the move
 * commits and releases the old store's bytes after it; moving out copies the disk bytes into the
 * current assetstore before the move commits and removes the directory after it. Either way the
 * bytes are readable at every moment, and a failure leaves the node where it was.
 */
@Injectable()
export class TreeToDisk {
  constructor(
    private readonly realms: Realms,
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly files: FilesRepository,
    private readonly tree: TreeService,
    private readonly assetstores: AssetstoresService,
  ) {}

  @OnEvent('model.folder.save', 'homeDirs.folderSave')
  async onFolderSave(event: AppEvent<NodeSaveInfo<FolderDoc>>): Promise<void> {
    if (skip()) return;
    const { doc, previous, parent } = event.info;
    if (doc.mapping) return; // a realm root: its directory is made with its user or tale
    const target = await this.folderPath(doc, false, parent);
    if (!previous) {
      if (target) await diskStep(() => fs.mkdir(target, { recursive: true }));
      return;
    }
    if (!folderMoved(previous, doc)) return;
    const source = await this.folderPath(previous);
    if (source && target) await diskStep(() => this.relocate(source, target));
    else if (target) await diskStep(() => this.materialize(doc, target));
    else if (source) await this.detachBytes(previous);
  }

  /** After a move across the edge of a mapped folder: the bytes' other copy goes. */
  @OnEvent('model.folder.save.after', 'homeDirs.folderSaved')
  async onFolderSaved(event: AppEvent<NodeSaveInfo<FolderDoc>>): Promise<void> {
    const { doc, previous, parent } = event.info;
    if (skip() || !previous || doc.mapping || !folderMoved(previous, doc)) return;
    const [source, target] = await Promise.all([this.folderPath(previous), this.folderPath(doc, false, parent)]);
    if (target && !source) await this.attachBytes(doc);
    if (source && !target) await fs.rm(source, { recursive: true, force: true });
  }

  @OnEvent('model.item.save', 'homeDirs.itemSave')
  async onItemSave(event: AppEvent<NodeSaveInfo<ItemDoc>>): Promise<void> {
    if (skip()) return;
    const { doc, previous, parent } = event.info;
    const target = await this.itemPath(doc, parent);
    if (!previous) {
      // a new item is an empty file (an existing file of that name is adopted as it is)
      if (target) await diskStep(() => fs.open(target, 'a', 0o644).then((h) => h.close()));
      return;
    }
    if (!itemMoved(previous, doc)) return;
    const source = await this.itemPath(previous);
    if (source && target) await diskStep(() => this.relocate(source, target));
    else if (target) await diskStep(() => this.materialize(doc, target));
    else if (source) await this.detachBytes(previous);
  }

  @OnEvent('model.item.save.after', 'homeDirs.itemSaved')
  async onItemSaved(event: AppEvent<NodeSaveInfo<ItemDoc>>): Promise<void> {
    const { doc, previous, parent } = event.info;
    if (skip() || !previous || !itemMoved(previous, doc)) return;
    const [source, target] = await Promise.all([this.itemPath(previous), this.itemPath(doc, parent)]);
    if (target && !source) await this.attachBytes(doc);
    if (source && !target) await fs.rm(source, { force: true });
  }

  @OnEvent('model.folder.remove', 'homeDirs.folderRemove')
  async onFolderRemove(event: AppEvent<FolderDoc>): Promise<void> {
    if (skip()) return;
    const disk = await this.folderPath(event.info, true);
    if (disk) await diskStep(() => fs.rm(disk, { recursive: true, force: true }));
  }

  @OnEvent('model.item.remove', 'homeDirs.itemRemove')
  async onItemRemove(event: AppEvent<ItemDoc>): Promise<void> {
    if (skip()) return;
    const disk = await this.itemPath(event.info);
    if (disk) await diskStep(() => fs.rm(disk, { force: true }));
  }

  /** An item of a mapped folder is its file: the last file record going takes the item with it. */
  @OnEvent('model.file.remove.after', 'homeDirs.fileRemoved')
  async onFileRemoved(event: AppEvent<FileDoc>): Promise<void> {
    if (skip()) return;
    const item = await this.items.findById(event.info.itemId);
    if (!item || !(await this.itemPath(item))) return;
    if ((await this.files.ofItem(item._id)).length === 0) await this.tree.deleteItem(item);
  }

  /**
   * A file recorded into a mapped item from elsewhere (a copy from an unmapped folder): its bytes
   * are written to the item's path and the record points at the mapped store. A file of a mapped
   * store recorded outside its realm (a copy out of a mapped folder) is refused.
   */
  @OnEvent('model.file.save', 'homeDirs.fileSave')
  async onFileSave(event: AppEvent<SaveInfo<FileDoc>>): Promise<void> {
    if (skip() || event.info.previous) return;
    const file = event.info.doc;
    const item = await this.items.findById(file.itemId);
    const where = item ? await this.locateItem(item) : null;
    const store = await this.assetstores.get(file.assetstoreId);
    if (!where) return; // a copy out of a mapped folder: copy.after moves its bytes to the current store
    const mapped = this.realms.assetstoreId(where.realm);
    if (store.type === 'mapped') {
      // a copy between mapped folders: copy.after copies the disk file
      file.assetstoreId = mapped;
      return;
    }
    // bytes from another store (a copy into a mapped folder): written to the item's path, then recorded as mapped
    const source = await (await this.assetstores.adapter(file.assetstoreId)).openReadStream(file);
    await diskStep(() => placeStream(source, where.disk, 'copy'));
    Object.assign(file, { assetstoreId: mapped, sha512: null, path: null });
  }

  /** A file copied from one mapped item to another: the disk file follows. */
  @OnEvent('model.file.copy.after', 'homeDirs.fileCopied')
  async onFileCopied(event: AppEvent<{ source: FileDoc; doc: FileDoc }>): Promise<void> {
    if (skip()) return;
    const [fromItem, toItem] = await Promise.all([this.items.findById(event.info.source.itemId), this.items.findById(event.info.doc.itemId)]);
    const from = fromItem ? await this.locateItem(fromItem) : null;
    const to = toItem ? await this.locateItem(toItem) : null;
    if (from && to) await diskStep(() => fs.copyFile(from.disk, to.disk));
    else if (from && !to) {
      // out of a mapped folder: the copy gets bytes of its own in the current store
      await this.storeApart(event.info.doc, from.disk).catch(async (err) => {
        await this.tree.deleteFile(event.info.doc);
        throw err;
      });
    }
  }

  /** Where REST uploads go: into a mapped folder (or item or file of one), the realm's mapped store. */
  @OnEvent('model.upload.assetstore', 'homeDirs.chooseAssetstore')
  async onChooseAssetstore(event: AppEvent<{ upload: Omit<UploadInfo, '_id' | 'assetstoreId'> & { replaceFileId?: Types.ObjectId | null }; parent: FolderDoc | ItemDoc | null }>): Promise<void> {
    const { upload, parent } = event.info;
    let folder: FolderDoc | null = null;
    if (upload.parentType === 'folder' && parent) folder = parent as FolderDoc;
    else if (upload.parentType === 'item' && parent) {
      if ((await this.locateItem(parent as ItemDoc)) && (await this.files.ofItem(parent._id)).length > 0) {
        throw new ConflictError('An item in a WebDAV-mapped folder holds exactly one file; replace its contents instead.');
      }
      folder = await this.folders.findById((parent as ItemDoc).folderId);
    } else if (upload.replaceFileId) {
      const file = await this.files.findById(upload.replaceFileId);
      const item = file ? await this.items.findById(file.itemId) : null;
      folder = item ? await this.folders.findById(item.folderId) : null;
    }
    const where = folder ? await this.realms.locate(folder) : null;
    if (where) event.addResponse(this.realms.assetstoreId(where.realm));
  }

  private async relocate(source: string, target: string): Promise<void> {
    if (await exists(target)) throw new ConflictError(`${path.basename(target)} already exists on disk there.`);
    try {
      await fs.rename(source, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await fs.cp(source, target, { recursive: true, errorOnExist: true, force: false });
      await fs.rm(source, { recursive: true });
    }
  }

  /**
   * Writes a folder's subtree or an item, about to move into a mapped folder, to `target` on disk:
   * each item as one file holding its bytes. An item with several files cannot be one file (409,
   * before anything is written); a failure removes what was written.
   */
  private async materialize(node: FolderDoc | ItemDoc, target: string): Promise<void> {
    const entries = 'folderId' in node ? [{ item: node, disk: target }] : await this.subtree(node, target);
    for (const e of entries) {
      if ('item' in e && (await this.files.ofItem(e.item._id)).length > 1) {
        throw new ConflictError(`"${e.item.name}" holds several files; an item in a WebDAV-mapped folder is one file.`);
      }
    }
    if (await exists(target)) throw new ConflictError(`${path.basename(target)} already exists on disk there.`);
    try {
      for (const e of entries) {
        if (!('item' in e)) {
          await fs.mkdir(e.disk, { recursive: true });
          continue;
        }
        const [file] = await this.files.ofItem(e.item._id);
        const temp = tempBeside(e.disk, 'move');
        if (file) await pipeline(await (await this.assetstores.adapter(file.assetstoreId)).openReadStream(file), createWriteStream(temp, { flags: 'wx' }));
        else await fs.writeFile(temp, '', { flag: 'wx' });
        await fs.rename(temp, e.disk);
      }
    } catch (err) {
      await fs.rm(target, { recursive: true, force: true });
      throw err;
    }
  }

  /** After a move in: the files of the subtree now use the mapped store; the other store's bytes are released. */
  private async attachBytes(node: FolderDoc | ItemDoc): Promise<void> {
    const located = 'folderId' in node ? await this.locateItem(node) : await this.realms.locate(node);
    if (!located) return;
    const mapped = this.realms.assetstoreId(located.realm);
    for (const item of await this.itemsUnder(node)) {
      for (const file of await this.files.ofItem(item._id)) {
        if (!sameId(file.assetstoreId, mapped)) await this.tree.replaceFileContents(file, { size: file.size, assetstoreId: mapped, bytes: { sha512: null, path: null } });
      }
    }
  }

  /** Before a move out: every file of the subtree gets its bytes in the current store, read from disk. */
  private async detachBytes(node: FolderDoc | ItemDoc): Promise<void> {
    for (const item of await this.itemsUnder(node)) {
      const disk = await this.itemPath(item);
      for (const file of await this.files.ofItem(item._id)) {
        const store = await this.assetstores.get(file.assetstoreId);
        if (store.type === 'mapped' && disk) await this.storeApart(file, disk);
      }
    }
  }

  /** Copies a disk file's bytes into the current assetstore and points `file` at them. */
  private async storeApart(file: FileDoc, disk: string): Promise<void> {
    const size = (await fs.stat(disk)).size;
    await this.assetstores.ingest(createReadStream(disk), size, ({ assetstoreId, bytes }) => this.tree.replaceFileContents(file, { size, assetstoreId, bytes }));
  }

  /** A folder's subtree, parents before children, with the disk paths it will have under `target`. */
  private async subtree(folder: FolderDoc, target: string): Promise<({ folder: FolderDoc; disk: string } | { item: ItemDoc; disk: string })[]> {
    const out: ({ folder: FolderDoc; disk: string } | { item: ItemDoc; disk: string })[] = [{ folder, disk: target }];
    for (let i = 0; i < out.length; i++) {
      const entry = out[i];
      if (!('folder' in entry)) continue;
      for await (const child of this.folders.childrenOf('folder', entry.folder._id)) out.push({ folder: child, disk: path.join(entry.disk, child.name) });
      for await (const item of this.items.inFolder(entry.folder._id)) out.push({ item, disk: path.join(entry.disk, item.name) });
    }
    return out;
  }

  private async itemsUnder(node: FolderDoc | ItemDoc): Promise<ItemDoc[]> {
    if ('folderId' in node) return [node];
    return (await this.subtree(node, '')).flatMap((e) => ('item' in e ? [e.item] : []));
  }

  /**
   * The disk path a folder has (or would have) from its document; null outside mapped folders.
   * `parent`: its parent folder when the event holds it (not read again).
   */
  private async folderPath(folder: FolderDoc, includeRoot = false, parent?: FolderDoc): Promise<string | null> {
    if (folder.mapping) return includeRoot ? this.realms.directory(folder.mapping.realm as 'homes', folder.mapping.key) : null;
    if (folder.parentCollection !== 'folder') return null;
    const container = parent && sameId(parent._id, folder.parentId) ? parent : await this.folders.findById(folder.parentId);
    const dir = container ? await this.realms.diskPathOfFolder(container) : null;
    return dir ? path.join(dir, folder.name) : null;
  }

  private async itemPath(item: ItemDoc, folder?: FolderDoc): Promise<string | null> {
    return (await this.locateItem(item, folder))?.disk ?? null;
  }

  /** Where an item is on disk; `known`: its folder when the caller holds it (not read again). */
  private async locateItem(item: ItemDoc, known?: FolderDoc): Promise<{ realm: 'homes' | 'tales'; disk: string } | null> {
    const folder = known && sameId(known._id, item.folderId) ? known : await this.folders.findById(item.folderId);
    const where = folder ? await this.realms.locate(folder) : null;
    if (!where || !folder) return null;
    return { realm: where.realm, disk: path.join(this.realms.directory(where.realm, where.key), ...where.segments, item.name) };
  }
}

function folderMoved(previous: FolderDoc, doc: FolderDoc): boolean {
  return previous.name !== doc.name || !sameId(previous.parentId, doc.parentId) || previous.parentCollection !== doc.parentCollection;
}

function itemMoved(previous: ItemDoc, doc: ItemDoc): boolean {
  return previous.name !== doc.name || !sameId(previous.folderId, doc.folderId);
}

/** A disk step; failures become client-visible refusals, and the tree write is aborted. */
async function diskStep<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof ConflictError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EEXIST') {
      throw new ConflictError(`The disk does not match the tree here (${code}); an administrator can run a reconciliation.`);
    }
    throw err;
  }
}

/** Writes from WebDAV and reconciliation already happened on disk. */
function skip(): boolean {
  const origin = RequestContext.origin();
  return origin === 'dav' || origin === 'reconcile';
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

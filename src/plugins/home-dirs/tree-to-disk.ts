import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
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
import type { UploadInfo } from '../../modules/tree/tree-events';
import { TreeService } from '../../modules/tree/tree.service';
import { TEMP_PREFIX } from './dav/dav-sync';
import { Realms } from './realms';

/**
 * Tree → disk (DESIGN §8): for a folder or item inside a mapped folder, the same change is made on
 * disk *before* the tree write commits; if the disk step fails the write is aborted and the client
 * gets the error. Writes that came from WebDAV or reconciliation already happened on disk and are
 * skipped (their origin says so): no loops, no marker fields.
 *
 * Rules: an item of a mapped folder is one file on disk named like the item (a new item is an
 * empty file); its file record holds the size and type. Moves and copies across the edge of a
 * mapped folder are refused (409) for now: the bytes would have to change stores.
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
  async onFolderSave(event: AppEvent<SaveInfo<FolderDoc>>): Promise<void> {
    if (skip()) return;
    const { doc, previous } = event.info;
    if (doc.mapping) return; // a realm root: its directory is made with its user or tale
    const target = await this.folderPath(doc);
    if (!previous) {
      if (target) await diskStep(() => fs.mkdir(target, { recursive: true }));
      return;
    }
    if (previous.name === doc.name && sameId(previous.parentId, doc.parentId) && previous.parentCollection === doc.parentCollection) return;
    const source = await this.folderPath(previous);
    await diskStep(() => this.relocate(source, target, 'folder'));
  }

  @OnEvent('model.item.save', 'homeDirs.itemSave')
  async onItemSave(event: AppEvent<SaveInfo<ItemDoc>>): Promise<void> {
    if (skip()) return;
    const { doc, previous } = event.info;
    const target = await this.itemPath(doc);
    if (!previous) {
      // a new item is an empty file (an existing file of that name is adopted as it is)
      if (target) await diskStep(() => fs.open(target, 'a', 0o644).then((h) => h.close()));
      return;
    }
    if (previous.name === doc.name && sameId(previous.folderId, doc.folderId)) return;
    const source = await this.itemPath(previous);
    await diskStep(() => this.relocate(source, target, 'item'));
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
    if (!where) {
      if (store.type === 'mapped') throw new ConflictError('Files cannot be copied out of a WebDAV-mapped folder yet; download and upload them instead.');
      return;
    }
    const mapped = this.realms.assetstoreId(where.realm);
    if (store.type === 'mapped') {
      // a copy between mapped folders: copy.after copies the disk file
      file.assetstoreId = mapped;
      return;
    }
    // bytes from another store (a copy into a mapped folder): written to the item's path, then recorded as mapped
    const temp = path.join(path.dirname(where.disk), `${TEMP_PREFIX}copy-${randomBytes(8).toString('hex')}`);
    const source = await (await this.assetstores.adapter(file.assetstoreId)).openReadStream(file);
    await diskStep(async () => {
      await pipeline(source, createWriteStream(temp, { flags: 'wx' }));
      await fs.rename(temp, where.disk);
    });
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

  private async relocate(source: string | null, target: string | null, kind: string): Promise<void> {
    if (!source && !target) return;
    if (!source || !target) throw new ConflictError(`A ${kind} cannot be moved into or out of a WebDAV-mapped folder yet; copy it instead.`);
    if (await exists(target)) throw new ConflictError(`${path.basename(target)} already exists on disk there.`);
    try {
      await fs.rename(source, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await fs.cp(source, target, { recursive: true, errorOnExist: true, force: false });
      await fs.rm(source, { recursive: true });
    }
  }

  /** The disk path a folder has (or would have) from its document; null outside mapped folders. */
  private async folderPath(folder: FolderDoc, includeRoot = false): Promise<string | null> {
    if (folder.mapping) return includeRoot ? this.realms.directory(folder.mapping.realm as 'homes', folder.mapping.key) : null;
    if (folder.parentCollection !== 'folder') return null;
    const parent = await this.folders.findById(folder.parentId);
    const dir = parent ? await this.realms.diskPathOfFolder(parent) : null;
    return dir ? path.join(dir, folder.name) : null;
  }

  private async itemPath(item: ItemDoc): Promise<string | null> {
    return (await this.locateItem(item))?.disk ?? null;
  }

  private async locateItem(item: ItemDoc): Promise<{ realm: 'homes' | 'tales'; disk: string } | null> {
    const folder = await this.folders.findById(item.folderId);
    const where = folder ? await this.realms.locate(folder) : null;
    if (!where || !folder) return null;
    return { realm: where.realm, disk: path.join(this.realms.directory(where.realm, where.key), ...where.segments, item.name) };
  }
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

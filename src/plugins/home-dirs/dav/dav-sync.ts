import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { promises as fs, Stats } from 'node:fs';
import * as path from 'node:path';
import { lookup as mimeLookup } from 'mime-types';
import { ConflictError, NotFoundError } from '../../../common/errors';
import { RequestContext } from '../../../common/request-context';
import { FilesRepository } from '../../../modules/tree/repositories/files.repository';
import { FolderDoc } from '../../../modules/tree/schemas/folder.schema';
import { ItemDoc } from '../../../modules/tree/schemas/item.schema';
import { lowerNameOf } from '../../../modules/tree/tree-names';
import { ExistingNode, Known, TreeService } from '../../../modules/tree/tree.service';
import { MappedNode, Realm, REALMS, Realms } from '../realms';
import { TEMP_PREFIX } from '../temp-files';

/** A place inside a realm: `/<realm>/<key>/<segments…>`, and the same place on disk. */
export interface RealmPath {
  realm: Realm;
  key: string;
  segments: string[];
  disk: string;
}

/** What is at a path on disk, when the caller has looked: lets the tree be asked for that kind first. */
export type DiskKind = 'file' | 'directory';

/** Where a WebDAV path points: the server root, a realm's list, or a place inside one home/tale. */
export type Location = { kind: 'root' } | { kind: 'realm'; realm: Realm } | { kind: 'inside'; at: RealmPath };

/** Locates decoded path segments (`['homes', 'alice', 'a.txt']`); null outside the realms. Names are NFC, as on disk. */
export function locate(realms: Realms, segments: string[]): Location | null {
  const parts = segments.map((s) => s.normalize('NFC'));
  if (parts.length === 0) return { kind: 'root' };
  const realm = parts[0] as Realm;
  if (!REALMS.includes(realm)) return null;
  if (parts.length === 1) return { kind: 'realm', realm };
  if (parts.some((s) => s === '.' || s === '..' || s.includes('/') || s.includes('\0'))) return null;
  const [key, ...rest] = parts.slice(1);
  return { kind: 'inside', at: { realm, key, segments: rest, disk: path.join(realms.directory(realm, key), ...rest) } };
}

/** A file or directory as WebDAV may show it: symlinks and special files are not followed or shown. */
export function isUsable(s: Stats | null | undefined): s is Stats {
  return Boolean(s) && !s!.isSymbolicLink() && (s!.isFile() || s!.isDirectory());
}

export async function usableStat(disk: string): Promise<Stats | null> {
  const s = await fs.lstat(disk).catch(() => null);
  return isUsable(s) ? s : null;
}

/** The entity tag of a file or directory: size and modification time (PROPFIND, GET and `If` agree). */
export function etagOf(s: Stats): string {
  return `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`;
}

/**
 * The tree side of WebDAV operations (DESIGN §8, WebDAV → tree). The file system calls these after
 * its disk step and before it answers, so the HTTP status reports the tree outcome too. Runs with
 * origin `dav`, which the tree → disk handlers skip: no loops, no marker fields. The folders this
 * request resolved are handed to the tree's writes (`Known`), which then need not read them again
 * for their size bookkeeping.
 */
@Injectable()
export class DavSync {
  /**
   * Folders this request has resolved (path → document), so that each path is read once per
   * request, not once per step. Only folders that exist are kept; a removal or move in the tree
   * empties it, and a folder this request creates is added.
   */
  private readonly memo = new AsyncLocalStorage<Map<string, FolderDoc>>();

  constructor(
    private readonly realms: Realms,
    private readonly tree: TreeService,
    private readonly files: FilesRepository,
  ) {}

  /** Runs one WebDAV request with its own memo of resolved folders. */
  withMemo<T>(fn: () => T): T {
    return this.memo.run(new Map(), fn);
  }

  /** The tree node at a path; `disk`: what the disk has there (or had), asked for first. */
  async node(at: RealmPath, disk?: DiskKind): Promise<MappedNode> {
    if (at.segments.length === 0) return { kind: 'folder', doc: (await this.folderAt(at, 0))! };
    const parent = await this.folderAt(at, at.segments.length - 1);
    if (!parent) return null;
    const node = await this.realms.nodeAt(parent, [last(at)], { itemFirst: disk === 'file' });
    if (node?.kind === 'folder') this.memo.getStore()?.set(memoKey(at, at.segments.length), node.doc);
    return node;
  }

  async folderCreated(at: RealmPath): Promise<void> {
    const parent = await this.parentFolder(at);
    const made = await this.tree.createFolder({ type: 'folder', doc: parent }, { name: last(at) }, { creator: RequestContext.user() });
    this.memo.getStore()?.set(memoKey(at, at.segments.length), made);
  }

  /**
   * A file now holds `size` bytes: its item and file record are made or updated. `created`: the
   * file was not on disk before this request, so its item is most likely new too (made without
   * looking the name up first; an item the tree has all the same is found when the name is taken).
   */
  async fileWritten(at: RealmPath, size: number, opts: { created?: boolean } = {}): Promise<void> {
    const parent = await this.parentFolder(at);
    const name = last(at);
    let item: ItemDoc | null = null;
    let isNew = false;
    if (opts.created) {
      try {
        item = await this.tree.createItem(parent, { name }, { creator: RequestContext.user(), reuseExisting: true, lookFirst: false });
        isNew = true;
      } catch (err) {
        if (!(err instanceof ExistingNode)) throw err;
        item = err.node as ItemDoc;
      }
    } else {
      const node = await this.realms.nodeAt(parent, [name], { itemFirst: true });
      if (node?.kind === 'folder') throw new ConflictError(`A folder named ${name} exists here.`);
      item = node?.doc ?? null;
    }
    // names are unique case-insensitively in the tree; on disk they are not
    if (item && item.name !== name) throw new ConflictError(`"${item.name}" already exists here; names differ in more than case.`);
    if (!item) {
      item = await this.tree.createItem(parent, { name }, { creator: RequestContext.user() });
      isNew = true;
    }
    await this.recordBytes(item, size, at.realm, isNew);
  }

  /** `disk`: what was on disk there before it was removed. */
  async removed(at: RealmPath, disk?: DiskKind): Promise<void> {
    const node = await this.node(at, disk);
    if (!node) return; // not in the tree: nothing to remove there
    try {
      if (node.kind === 'folder') await this.tree.deleteFolder(node.doc, this.known());
      else await this.tree.deleteItem(node.doc, true, this.known());
    } finally {
      this.memo.getStore()?.clear();
    }
  }

  /** A rename, a move or both, as one tree write. `disk`: what was moved on disk. */
  async moved(from: RealmPath, to: RealmPath, disk?: DiskKind): Promise<void> {
    const node = await this.node(from, disk);
    const parent = await this.parentFolder(to);
    const name = last(to);
    if (!node) {
      // unknown to the tree (made on disk directly): adopt it at its new place
      await this.imported(to);
      return;
    }
    try {
      if (node.kind === 'folder') {
        await this.tree.updateFolder(node.doc, { name, parent: { type: 'folder', doc: parent } }, this.known());
        return;
      }
      const moved = await this.tree.updateItem(node.doc, { name, folder: parent }, this.known());
      for (const file of await this.files.ofItem(moved._id)) {
        if (file.name !== name) await this.tree.updateFile(file, { name, mimeType: mimeOf(name) });
      }
    } finally {
      this.memo.getStore()?.clear();
    }
  }

  /** Brings a disk subtree (a copy's target, a file made on disk) into the tree. */
  async imported(at: RealmPath): Promise<void> {
    const stat = await fs.lstat(at.disk);
    if (stat.isSymbolicLink()) return;
    if (stat.isFile()) {
      await this.fileWritten(at, stat.size);
      return;
    }
    if (!stat.isDirectory()) return;
    const existing = await this.node(at, 'directory');
    if (!existing) await this.folderCreated(at);
    for (const entry of await fs.readdir(at.disk, { withFileTypes: true })) {
      if (entry.name.startsWith(TEMP_PREFIX) || entry.isSymbolicLink()) continue;
      await this.imported({ ...at, segments: [...at.segments, entry.name], disk: path.join(at.disk, entry.name) });
    }
  }

  /** `isNew`: the item was made just now, so it has no file record yet. `realm`: where the item is (its path says). */
  private async recordBytes(item: ItemDoc, size: number, realm: Realm, isNew: boolean): Promise<void> {
    const [file, ...extra] = isNew ? [] : await this.files.ofItem(item._id);
    const assetstoreId = this.realms.assetstoreId(realm);
    const known = { ...this.known(), item };
    if (!file) {
      await this.tree.createFile(item, { name: item.name, size, mimeType: mimeOf(item.name), assetstoreId, bytes: { sha512: null, path: null } }, RequestContext.user(), known);
      return;
    }
    // in a mapped folder an item is one file on disk: stray records go
    for (const stray of extra) await this.tree.deleteFile(stray, true, known);
    await this.tree.replaceFileContents(file, { size, assetstoreId, bytes: { sha512: null, path: null } }, known);
  }

  /** The folders this request has resolved, for the tree's writes. */
  private known(): Known {
    return { folders: [...(this.memo.getStore()?.values() ?? [])] };
  }

  private async rootFolder(at: RealmPath): Promise<FolderDoc> {
    const root = await this.realms.rootFolder(at.realm, at.key);
    if (!root) throw new NotFoundError(`No ${at.realm === 'homes' ? 'home' : 'tale workspace'} ${at.key} in the tree.`);
    return root;
  }

  private async parentFolder(at: RealmPath): Promise<FolderDoc> {
    const parent = await this.folderAt(at, at.segments.length - 1);
    if (!parent) throw new NotFoundError(`The parent of ${at.segments.join('/')} is not a folder in the tree.`);
    return parent;
  }

  /**
   * The folder at the first `depth` segments of `at` (0: the realm root), from the memo where this
   * request resolved it or a prefix of it already; null when it is not a folder in the tree
   * (NotFoundError when the realm root itself is missing).
   */
  private async folderAt(at: RealmPath, depth: number): Promise<FolderDoc | null> {
    const memo = this.memo.getStore();
    let known = depth;
    let folder = memo?.get(memoKey(at, known));
    while (!folder && memo && known > 0) folder = memo.get(memoKey(at, --known));
    if (!folder) {
      folder = await this.rootFolder(at);
      known = 0;
      memo?.set(memoKey(at, 0), folder);
    }
    for (let i = known; i < depth; i++) {
      const child = await this.realms.nodeAt(folder, [at.segments[i]]);
      if (child?.kind !== 'folder') return null;
      folder = child.doc;
      memo?.set(memoKey(at, i + 1), folder);
    }
    return folder;
  }
}

/** A memo key: realm, key and the first `depth` segments, compared as the tree compares names. */
function memoKey(at: RealmPath, depth: number): string {
  let key = `${at.realm}/${at.key}`;
  for (let i = 0; i < depth; i++) key += `/${lowerNameOf(at.segments[i].normalize('NFC'))}`;
  return key;
}

function last(at: RealmPath): string {
  return at.segments[at.segments.length - 1].normalize('NFC');
}

export function mimeOf(name: string): string {
  return mimeLookup(name) || 'application/octet-stream';
}

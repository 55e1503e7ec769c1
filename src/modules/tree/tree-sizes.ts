import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { UsersRepository } from '../users/users.repository';
import { CollectionsRepository } from './repositories/collections.repository';
import { FoldersRepository } from './repositories/folders.repository';
import { ItemsRepository } from './repositories/items.repository';
import { BaseParentType, ParentType } from './schemas/common';
import { FolderDoc } from './schemas/folder.schema';

export interface Base {
  type: BaseParentType;
  id: Types.ObjectId;
}

/** One size change of a tree write, as TreeService states it. */
export type SizeChange =
  /** `delta` bytes more (or less) in the items directly in a folder; `itemId`: one item's own size changed by as much. */
  | { folderId: Types.ObjectId; base: Base; delta: number; itemId?: Types.ObjectId }
  /** A subtree of `delta` bytes came under (or left) a parent. */
  | { parentType: ParentType; parentId: Types.ObjectId; base: Base; delta: number };

/**
 * The size bookkeeping of tree writes, for TreeService only (DESIGN §3: item = its files;
 * folder.size = its direct items; folder.sizeRecursive = its subtree; user and collection = their
 * subtree). A write states its changes and they are applied together: what several changes add to
 * one node is netted (a move within one root leaves the root and the common ancestors alone), the
 * folders take one command whatever their number, and the items and roots take theirs
 * concurrently. Every change is an atomic `$inc`; `PUT /system/check` recomputes them all.
 */
@Injectable()
export class TreeSizes {
  constructor(
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly users: UsersRepository,
    private readonly collections: CollectionsRepository,
  ) {}

  /**
   * Applies `changes`. The folders above a changed folder are found by following parent links:
   * from `known` (folders the caller read in this request) where it has them, else read.
   */
  async apply(changes: SizeChange[], known: Iterable<FolderDoc> = []): Promise<void> {
    const live = changes.filter((c) => c.delta);
    if (!live.length) return;
    const roots = new Map<string, Base & { delta: number }>();
    const itemIncs = new Map<string, { id: Types.ObjectId; delta: number }>();
    for (const c of live) {
      addTo(roots, String(c.base.id), { ...c.base, delta: 0 }, (r) => (r.delta += c.delta));
      if ('folderId' in c && c.itemId) addTo(itemIncs, String(c.itemId), { id: c.itemId, delta: 0 }, (i) => (i.delta += c.delta));
    }
    // items and roots do not wait for the folder chains
    const writes: Promise<void>[] = [
      ...[...itemIncs.values()].map((i) => this.items.incSize(i.id, i.delta)),
      ...[...roots.values()].map((r) => (r.type === 'user' ? this.users.incSize(r.id, r.delta) : this.collections.incSize(r.id, r.delta))),
    ];
    writes.push(this.applyToFolders(live, new Map(Array.from(known, (f) => [String(f._id), f]))));
    const results = await Promise.allSettled(writes);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  private async applyToFolders(changes: SizeChange[], known: Map<string, FolderDoc>): Promise<void> {
    const folders = new Map<string, { id: Types.ObjectId; size: number; sizeRecursive: number }>();
    const add = (id: Types.ObjectId, size: number, sizeRecursive: number) =>
      addTo(folders, String(id), { id, size: 0, sizeRecursive: 0 }, (f) => {
        f.size += size;
        f.sizeRecursive += sizeRecursive;
      });
    for (const c of changes) {
      const start = 'folderId' in c ? c.folderId : c.parentType === 'folder' ? c.parentId : null;
      if (!start) continue;
      const chain = await this.folders.chainFrom(start, known);
      chain.forEach((f, n) => add(f._id, n === 0 && 'folderId' in c ? c.delta : 0, c.delta));
    }
    await this.folders.incSizes([...folders.values()]);
  }
}

function addTo<T>(map: Map<string, T>, key: string, initial: T, update: (entry: T) => void): void {
  let entry = map.get(key);
  if (!entry) map.set(key, (entry = initial));
  update(entry);
}

import { Injectable } from '@nestjs/common';
import { Types } from 'mongoose';
import { UsersRepository } from '../users/users.repository';
import { CollectionsRepository } from './repositories/collections.repository';
import { FilesRepository } from './repositories/files.repository';
import { FoldersRepository } from './repositories/folders.repository';
import { ItemsRepository } from './repositories/items.repository';
import { nameKey, NamesRepository } from './repositories/names.repository';

export interface CheckReport {
  itemsFixed: number;
  foldersFixed: number;
  rootsFixed: number;
  namesReleased: number;
  namesAdded: number;
}

/**
 * `PUT /system/check`: recomputes every size from the files up and repairs name reservations, so
 * a crash between two steps of a write never leaves the tree wrong for long. It keeps one number
 * per item that has files and a few per folder in memory, never the documents themselves.
 */
@Injectable()
export class TreeCheckService {
  constructor(
    private readonly users: UsersRepository,
    private readonly collections: CollectionsRepository,
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly files: FilesRepository,
    private readonly names: NamesRepository,
  ) {}

  async run(): Promise<CheckReport> {
    const report: CheckReport = { itemsFixed: 0, foldersFixed: 0, rootsFixed: 0, namesReleased: 0, namesAdded: 0 };
    const itemSize = new Map<string, number>();
    for await (const file of this.files.all()) itemSize.set(String(file.itemId), (itemSize.get(String(file.itemId)) ?? 0) + file.size);

    const direct = new Map<string, number>();
    for await (const item of this.items.all()) {
      const size = itemSize.get(String(item._id)) ?? 0;
      if (item.size !== size) {
        await this.items.setSize(item._id, size);
        report.itemsFixed++;
      }
      direct.set(String(item.folderId), (direct.get(String(item.folderId)) ?? 0) + size);
      await this.ensureName(`folder`, item.folderId, item.lowerName, 'item', item._id, report);
    }

    const folders = new Map<string, { parent: string; parentType: string; size: number; sizeRecursive: number; base: string }>();
    for await (const f of this.folders.all()) {
      folders.set(String(f._id), { parent: String(f.parentId), parentType: f.parentCollection, size: f.size, sizeRecursive: f.sizeRecursive, base: String(f.baseParentId) });
      await this.ensureName(f.parentCollection, f.parentId, f.lowerName, 'folder', f._id, report);
    }
    const recursive = new Map<string, number>();
    for (const [id] of folders) recursive.set(id, direct.get(id) ?? 0);
    // add each folder's direct size to every ancestor
    for (const [id] of folders) {
      const add = direct.get(id) ?? 0;
      if (!add) continue;
      let current = folders.get(id)!;
      for (let depth = 0; current.parentType === 'folder' && depth < 10_000; depth++) {
        recursive.set(current.parent, (recursive.get(current.parent) ?? 0) + add);
        const next = folders.get(current.parent);
        if (!next) break;
        current = next;
      }
    }
    const rootTotals = new Map<string, number>();
    for (const [id, f] of folders) {
      const size = direct.get(id) ?? 0;
      const sizeRecursive = recursive.get(id) ?? 0;
      if (f.size !== size || f.sizeRecursive !== sizeRecursive) {
        await this.folders.setSizes(new Types.ObjectId(id), size, sizeRecursive);
        report.foldersFixed++;
      }
      if (f.parentType !== 'folder') rootTotals.set(f.parent, (rootTotals.get(f.parent) ?? 0) + sizeRecursive);
    }
    for await (const user of this.users.all()) {
      const size = rootTotals.get(String(user._id)) ?? 0;
      if (user.size !== size) {
        await this.users.setSize(user._id, size);
        report.rootsFixed++;
      }
    }
    for await (const c of this.collections.all()) {
      const size = rootTotals.get(String(c._id)) ?? 0;
      if (c.size !== size) {
        await this.collections.setSize(c._id, size);
        report.rootsFixed++;
      }
    }
    for await (const reservation of this.names.all()) {
      const exists = reservation.kind === 'folder' ? await this.folders.findById(reservation.nodeId) : await this.items.findById(reservation.nodeId);
      const parent = reservation._id.slice(0, reservation._id.lastIndexOf(':'));
      const holds = exists && nameKey(reservation.kind === 'folder' ? (exists as { parentCollection: 'folder' }).parentCollection : 'folder', reservation.kind === 'folder' ? (exists as { parentId: Types.ObjectId }).parentId : (exists as { folderId: Types.ObjectId }).folderId, exists.lowerName).startsWith(parent) && reservation._id.endsWith(`:${exists.lowerName}`);
      if (!holds) {
        await this.names.release(reservation._id, reservation.nodeId);
        report.namesReleased++;
      }
    }
    return report;
  }

  private async ensureName(parentType: string, parentId: Types.ObjectId, lowerName: string, kind: 'folder' | 'item', id: Types.ObjectId, report: CheckReport) {
    const key = nameKey(parentType as 'folder', parentId, lowerName);
    const holder = await this.names.find(key);
    if (!holder && (await this.names.reserve(key, kind, id))) report.namesAdded++;
  }
}

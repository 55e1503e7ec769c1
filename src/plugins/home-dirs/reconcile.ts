import { Controller, Injectable, Logger, OnApplicationBootstrap, Query } from '@nestjs/common';
import { ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';
import { Dirent, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { AccessDeniedError, AuthenticationError, NotFoundError } from '../../common/errors';
import { RequestContext } from '../../common/request-context';
import { Post } from '../../common/routes';
import { Access } from '../../modules/auth/access.decorators';
import { FilesRepository } from '../../modules/tree/repositories/files.repository';
import { FoldersRepository } from '../../modules/tree/repositories/folders.repository';
import { ItemsRepository } from '../../modules/tree/repositories/items.repository';
import { FolderDoc } from '../../modules/tree/schemas/folder.schema';
import { ItemDoc } from '../../modules/tree/schemas/item.schema';
import { lowerNameOf } from '../../modules/tree/tree-names';
import { TreeService } from '../../modules/tree/tree.service';
import { mimeOf } from './dav/dav-sync';
import { TEMP_PREFIX } from './temp-files';
import { UPLOAD_DIR } from './mapped.assetstore';
import { Realm, REALMS, Realms } from './realms';

export interface ReconcileReport {
  roots: number;
  foldersAdded: number;
  itemsAdded: number;
  sizesFixed: number;
  removed: number;
  skipped: string[];
}

/**
 * Makes the tree match the disk (disk is the truth for mapped data): adds, removes and updates
 * folders, items and file sizes, one directory at a time (a merge of the sorted disk names with the
 * tree's children), so memory grows with the largest directory, not with the home. Runs with origin
 * `reconcile`, which the tree → disk handlers skip. At start-up (before the server listens), on
 * `POST /api/v1/homedirs/reconcile`, and from the CLI (`npm run cli -- reconcile`).
 */
@Injectable()
export class Reconciler implements OnApplicationBootstrap {
  private readonly logger = new Logger('Reconcile');

  constructor(
    private readonly realms: Realms,
    private readonly tree: TreeService,
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly files: FilesRepository,
  ) {}

  /** Before the server listens, so no request races the walk. */
  async onApplicationBootstrap(): Promise<void> {
    await this.realms.ready;
    const report = await this.all();
    const changed = report.foldersAdded + report.itemsAdded + report.sizesFixed + report.removed;
    if (changed || report.skipped.length) this.logger.log(`start-up reconciliation: ${JSON.stringify({ ...report, skipped: report.skipped.length })}`);
  }

  async all(): Promise<ReconcileReport> {
    const report = emptyReport();
    for (const realm of REALMS) {
      for (const root of await this.folders.mappedIn(realm, null)) await this.reconcileRoot(realm, root, report);
    }
    return report;
  }

  async one(realm: Realm, key: string): Promise<ReconcileReport> {
    const root = await this.realms.rootFolder(realm, key);
    if (!root) throw new NotFoundError(`No ${realm === 'homes' ? 'home' : 'tale'} ${key}.`);
    const report = emptyReport();
    await this.reconcileRoot(realm, root, report);
    return report;
  }

  private async reconcileRoot(realm: Realm, root: FolderDoc, report: ReconcileReport): Promise<void> {
    report.roots++;
    const dir = this.realms.directory(realm, root.mapping!.key);
    await fs.mkdir(dir, { recursive: true });
    await RequestContext.run({ origin: 'reconcile', user: null, token: null }, () => this.reconcileDir(realm, root, dir, report));
  }

  private async reconcileDir(realm: Realm, folder: FolderDoc, dir: string, report: ReconcileReport): Promise<void> {
    await this.removeStaleTemp(dir);
    const entries = (await fs.readdir(dir, { withFileTypes: true }))
      .filter((e) => !e.name.startsWith(TEMP_PREFIX) && e.name !== UPLOAD_DIR && !e.isSymbolicLink() && (e.isFile() || e.isDirectory()))
      .sort(byLowerName);
    const onDisk = new Map<string, Dirent>();
    for (const entry of entries) {
      const lower = lowerNameOf(entry.name.normalize('NFC'));
      if (onDisk.has(lower)) {
        report.skipped.push(path.join(dir, entry.name)); // names that differ only in case cannot both be in the tree
        continue;
      }
      onDisk.set(lower, entry);
    }
    // tree nodes that are not on disk (or are of the other kind) go
    for await (const child of this.folders.childrenOf('folder', folder._id)) {
      const entry = onDisk.get(child.lowerName);
      if (!entry || !entry.isDirectory()) {
        await this.tree.deleteFolder(child);
        report.removed++;
      }
    }
    for await (const item of this.items.inFolder(folder._id)) {
      const entry = onDisk.get(item.lowerName);
      if (!entry || !entry.isFile()) {
        await this.tree.deleteItem(item);
        report.removed++;
      }
    }
    // disk entries the tree lacks come in; files get their size
    for (const entry of onDisk.values()) {
      const name = entry.name.normalize('NFC');
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        let child = await this.folders.findChild('folder', folder._id, lowerNameOf(name));
        if (!child) {
          child = await this.tree.createFolder({ type: 'folder', doc: folder }, { name }, {});
          report.foldersAdded++;
        }
        await this.reconcileDir(realm, child, full, report);
        continue;
      }
      const size = (await fs.stat(full)).size;
      let item = await this.items.findChild(folder._id, lowerNameOf(name));
      if (!item) {
        item = await this.tree.createItem(folder, { name }, {});
        report.itemsAdded++;
      }
      await this.fixFile(realm, item, size, report);
    }
  }

  /** Temp files of uploads that never finished (a crash mid-PUT) go after a day. */
  private async removeStaleTemp(dir: string): Promise<void> {
    const cutoff = Date.now() - 24 * 3600_000;
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      if (!entry.name.startsWith(TEMP_PREFIX) || !entry.isFile()) continue;
      const full = path.join(dir, entry.name);
      if ((await fs.stat(full)).mtimeMs < cutoff) await fs.rm(full, { force: true });
    }
  }

  private async fixFile(realm: Realm, item: ItemDoc, size: number, report: ReconcileReport): Promise<void> {
    const [file, ...extra] = await this.files.ofItem(item._id);
    for (const stray of extra) await this.tree.deleteFile(stray, true);
    const assetstoreId = this.realms.assetstoreId(realm);
    if (!file) {
      await this.tree.createFile(item, { name: item.name, size, mimeType: mimeOf(item.name), assetstoreId, bytes: { sha512: null, path: null } }, null);
      return;
    }
    if (file.size !== size || String(file.assetstoreId) !== String(assetstoreId)) {
      await this.tree.replaceFileContents(file, { size, assetstoreId, bytes: { sha512: null, path: null } });
      report.sizesFixed++;
    }
  }
}

function emptyReport(): ReconcileReport {
  return { roots: 0, foldersAdded: 0, itemsAdded: 0, sizesFixed: 0, removed: 0, skipped: [] };
}

function byLowerName(a: Dirent, b: Dirent): number {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

class ReconcileQuery {
  @ApiPropertyOptional({ description: 'One home, by login (yours, unless you are an admin)' }) @IsOptional() @IsString() login?: string;
  @ApiPropertyOptional({ description: 'One tale workspace, by tale id (admins)' }) @IsOptional() @IsString() taleId?: string;
}

@ApiTags('homedirs')
@Controller('homedirs')
export class ReconcileController {
  constructor(private readonly reconciler: Reconciler) {}

  @Post('reconcile')
  @Access.user()
  @ApiOperation({ summary: 'Make the tree match the disk for one home (yours, or any as admin), one tale, or all (admins)' })
  async reconcile(@Query() q: ReconcileQuery) {
    const user = RequestContext.user();
    if (!user) throw new AuthenticationError();
    const login = q.login ?? (q.taleId ? undefined : user.admin ? undefined : user.login);
    if (!user.admin && (login !== user.login || q.taleId)) throw new AccessDeniedError('You may reconcile only your own home.');
    if (q.taleId) return this.reconciler.one('tales', q.taleId);
    if (login) return this.reconciler.one('homes', login);
    return this.reconciler.all();
  }
}

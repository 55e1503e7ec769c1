import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Types } from 'mongoose';
import { AssetstoresService } from '../../assetstores/assetstores.service';
import { RequestContext } from '../../common/request-context';
import { AppConfig } from '../../modules/config/app-config';
import { AppEvent } from '../../modules/events/event-bus';
import { SaveInfo } from '../../modules/events/event-map';
import { ConflictError } from '../../common/errors';
import { OnEvent } from '../../modules/events/on-event.decorator';
import { SettingsService, validators } from '../../modules/settings/settings.service';
import { FoldersRepository } from '../../modules/tree/repositories/folders.repository';
import { ItemsRepository } from '../../modules/tree/repositories/items.repository';
import { FolderDoc } from '../../modules/tree/schemas/folder.schema';
import { ItemDoc } from '../../modules/tree/schemas/item.schema';
import { lowerNameOf } from '../../modules/tree/tree-names';
import { TreeService } from '../../modules/tree/tree.service';
import type { UserDoc } from '../../modules/users/user.schema';
import { UsersRepository } from '../../modules/users/users.repository';
import { MAPPED, mappedFactory } from './mapped.assetstore';

export type Realm = 'homes' | 'tales';
export const REALMS: Realm[] = ['homes', 'tales'];
export const HOME_FOLDER = 'Home';
/** How long this process trusts a home it made sure of (`Realms.ensureHome`). */
export const HOME_KNOWN_MS = 5_000;

export const HomeDirsSetting = {
  HOMES_ROOT: 'homedirs.root',
  TALES_ROOT: 'taledirs.root',
} as const;

/** A node of a mapped tree at a realm path: the folder or item, or nothing yet. */
export type MappedNode = { kind: 'folder'; doc: FolderDoc } | { kind: 'item'; doc: ItemDoc } | null;

/**
 * The realms of the plugin and where they live: `/homes/<login>` ↔ `<homes root>/<login>` ↔ the
 * user's `Home` folder; `/tales/<taleId>` ↔ `<tales root>/<taleId>` ↔ the tale's workspace folder.
 * Names on disk equal names in the tree. Roots come from settings, read at start-up.
 */
@Injectable()
export class Realms implements OnApplicationBootstrap {
  private readonly logger = new Logger('HomeDirs');
  private readonly roots: Record<Realm, string> = { homes: '', tales: '' };
  private readonly assetstoreIds: Partial<Record<Realm, Types.ObjectId>> = {};
  private started!: () => void;
  /** Homes this process made sure of recently: login → user id and until when (see `ensureHome`). */
  private readonly knownHomes = new Map<string, { userId: string; until: number }>();
  /** Resolves once roots, mapped stores and homes are in place at start-up. */
  readonly ready = new Promise<void>((resolve) => (this.started = resolve));

  constructor(
    private readonly settings: SettingsService,
    private readonly config: AppConfig,
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly users: UsersRepository,
    private readonly tree: TreeService,
    private readonly assetstores: AssetstoresService,
  ) {
    this.settings.register(HomeDirsSetting.HOMES_ROOT, {
      default: () => path.join(this.config.dataDir, 'homes'),
      validate: validators.absolutePath,
      description: 'Directory holding the home directories (read at start-up).',
    });
    this.settings.register(HomeDirsSetting.TALES_ROOT, {
      default: () => path.join(this.config.dataDir, 'tales'),
      validate: validators.absolutePath,
      description: 'Directory holding the tale workspaces (read at start-up).',
    });
    this.assetstores.registerType(MAPPED, mappedFactory((itemId) => this.diskPathOfItemId(itemId)));
  }

  async onApplicationBootstrap(): Promise<void> {
    this.roots.homes = await this.settings.get<string>(HomeDirsSetting.HOMES_ROOT);
    this.roots.tales = await this.settings.get<string>(HomeDirsSetting.TALES_ROOT);
    for (const realm of REALMS) {
      await fs.mkdir(this.roots[realm], { recursive: true });
      this.assetstoreIds[realm] = (await this.assetstores.ensure({ name: `${realm} (mapped)`, type: MAPPED, root: this.roots[realm] }))._id;
    }
    // users made before the plugin was enabled get their home now
    for await (const user of this.users.all()) await this.ensureHome(user);
    this.started();
  }

  root(realm: Realm): string {
    return this.roots[realm];
  }

  assetstoreId(realm: Realm): Types.ObjectId {
    const id = this.assetstoreIds[realm];
    if (!id) throw new Error('the home-dirs plugin has not started');
    return id;
  }

  /** The directory of one home or tale; `key` is a login or tale id, never containing `/`. */
  directory(realm: Realm, key: string): string {
    if (!key || key.includes('/') || key === '.' || key === '..') throw new Error(`invalid ${realm} key ${key}`);
    return path.join(this.roots[realm], key);
  }

  rootFolder(realm: Realm, key: string): Promise<FolderDoc | null> {
    return this.folders.findMapped(realm, key);
  }

  /**
   * Makes the user's `Home` folder and directory when missing. Every WebDAV request calls this: once
   * this process has made sure of a home it trusts it for `HOME_KNOWN_MS` (no query, no mkdir). It
   * forgets sooner when the user's login changes, the user is deleted or a home folder is removed
   * here; a home folder or directory removed elsewhere comes back within that time, as before.
   */
  async ensureHome(user: UserDoc): Promise<void> {
    const known = this.knownHomes.get(user.login);
    if (known && known.userId === String(user._id) && known.until > Date.now()) return;
    await this.makeHome(user);
    if (this.knownHomes.size >= 10_000) this.knownHomes.clear();
    this.knownHomes.set(user.login, { userId: String(user._id), until: Date.now() + HOME_KNOWN_MS });
  }

  private async makeHome(user: UserDoc): Promise<FolderDoc> {
    const existing = await this.rootFolder('homes', user.login);
    await fs.mkdir(this.directory('homes', user.login), { recursive: true });
    if (existing) return existing;
    return RequestContext.run({ origin: 'system', user: null, token: null }, () =>
      this.tree.createFolder(
        { type: 'user', doc: user },
        { name: HOME_FOLDER, public: false, mapping: { realm: 'homes', key: user.login } },
        { creator: user, reuseExisting: false, allowRename: true },
      ),
    );
  }

  /** A home folder went, or a user's login or existence changed: the next request makes sure again. */
  forgetHome(login: string): void {
    this.knownHomes.delete(login);
  }

  /**
   * The tree node at `segments` below a realm root folder, walking child names. `itemFirst`: the
   * last name is looked up as an item first (one query when it is one: a folder and an item never
   * share a name in a folder, the tree reserves names for both).
   */
  async nodeAt(rootFolder: FolderDoc, segments: string[], opts: { itemFirst?: boolean } = {}): Promise<MappedNode> {
    let folder = rootFolder;
    for (let i = 0; i < segments.length; i++) {
      const lower = lowerNameOf(segments[i].normalize('NFC'));
      if (opts.itemFirst && i === segments.length - 1) {
        const item = await this.items.findChild(folder._id, lower);
        if (item) return { kind: 'item', doc: item };
        const child = await this.folders.findChild('folder', folder._id, lower);
        return child ? { kind: 'folder', doc: child } : null;
      }
      const child = await this.folders.findChild('folder', folder._id, lower);
      if (child) {
        folder = child;
        continue;
      }
      if (i === segments.length - 1) {
        const item = await this.items.findChild(folder._id, lower);
        return item ? { kind: 'item', doc: item } : null;
      }
      return null;
    }
    return { kind: 'folder', doc: folder };
  }

  /** The mapped root of a folder's subtree and the path below it, or null when not mapped. */
  async locate(folder: FolderDoc): Promise<{ realm: Realm; key: string; segments: string[] } | null> {
    const segments: string[] = [];
    let current: FolderDoc | null = folder;
    for (let depth = 0; current && depth < 10_000; depth++) {
      if (current.mapping && REALMS.includes(current.mapping.realm as Realm)) {
        return { realm: current.mapping.realm as Realm, key: current.mapping.key, segments: segments.reverse() };
      }
      segments.push(current.name);
      current = current.parentCollection === 'folder' ? await this.folders.findById(current.parentId) : null;
    }
    return null;
  }

  async diskPathOfFolder(folder: FolderDoc): Promise<string | null> {
    const where = await this.locate(folder);
    return where ? path.join(this.directory(where.realm, where.key), ...where.segments) : null;
  }

  async diskPathOfItem(item: ItemDoc): Promise<string | null> {
    const folder = await this.folders.findById(item.folderId);
    const dir = folder ? await this.diskPathOfFolder(folder) : null;
    return dir ? path.join(dir, item.name) : null;
  }

  private async diskPathOfItemId(itemId: Types.ObjectId): Promise<string> {
    const item = await this.items.findById(itemId);
    const disk = item ? await this.diskPathOfItem(item) : null;
    if (!disk) throw new Error(`item ${itemId} is not in a mapped folder`);
    return disk;
  }

  /** A login change moves the home directory (before the user is saved, so a failure refuses the change). */
  @OnEvent('model.user.save', 'homeDirs.moveHome')
  async onUserSave(event: AppEvent<SaveInfo<UserDoc>>): Promise<void> {
    const { doc, previous } = event.info;
    if (!previous || previous.login === doc.login) return;
    this.forgetHome(previous.login);
    this.forgetHome(doc.login);
    const from = this.directory('homes', previous.login);
    const to = this.directory('homes', doc.login);
    if (await fs.lstat(to).then(() => true, () => false)) throw new ConflictError(`A home directory for ${doc.login} already exists on disk.`);
    await fs.rename(from, to).catch((err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    });
  }

  @OnEvent('model.user.save.after', 'homeDirs.remapHome')
  async onUserSaved(event: AppEvent<SaveInfo<UserDoc>>): Promise<void> {
    const { doc, previous } = event.info;
    if (!previous || previous.login === doc.login) return;
    this.forgetHome(previous.login);
    this.forgetHome(doc.login);
    const home = await this.rootFolder('homes', previous.login);
    if (home) await this.tree.setMapping(home, { realm: 'homes', key: doc.login });
    await this.ensureHome(doc);
  }

  @OnEvent('model.user.remove.after', 'homeDirs.forgetHome')
  onUserRemoved(event: AppEvent<UserDoc>): void {
    this.forgetHome(event.info.login);
  }

  /** A home folder removed through the tree (its directory goes with it). */
  @OnEvent('model.folder.remove.after', 'homeDirs.forgetRemovedHome')
  onFolderRemoved(event: AppEvent<FolderDoc>): void {
    if (event.info.mapping?.realm === 'homes') this.forgetHome(event.info.mapping.key);
  }

  /** A home exists from the moment its user does. */
  @OnEvent('model.user.save.created', 'homeDirs.createHome')
  async onUserCreated(event: AppEvent<UserDoc>): Promise<void> {
    await this.ensureHome(event.info);
  }
}

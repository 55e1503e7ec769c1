import { Injectable, Logger } from '@nestjs/common';
import type { Archiver } from 'archiver';
import type { Response } from 'express';
import { AssetstoresService } from '../../assetstores/assetstores.service';
import { AccessLevel } from '../access/access-level';
import { AccessService } from '../access/access.service';
import { RequestContext } from '../../common/request-context';
import { contentDisposition } from './download.service';
import { FilesRepository } from './repositories/files.repository';
import { FoldersRepository } from './repositories/folders.repository';
import { ItemsRepository } from './repositories/items.repository';
import { CollectionDoc } from './schemas/collection.schema';
import { FolderDoc } from './schemas/folder.schema';
import { ItemDoc } from './schemas/item.schema';

export type ZipEntry = { kind: 'folder'; doc: FolderDoc } | { kind: 'item'; doc: ItemDoc } | { kind: 'collection'; doc: CollectionDoc };

/**
 * Streams folders, items and collections as one zip, file by file (archiver), never buffered:
 * a folder becomes a directory; an item with one file of its own name becomes that file, other
 * items a directory of their files (Girder's layout). Subfolders the caller cannot read are left out.
 */
@Injectable()
export class ZipService {
  private readonly logger = new Logger(ZipService.name);

  constructor(
    private readonly folders: FoldersRepository,
    private readonly items: ItemsRepository,
    private readonly files: FilesRepository,
    private readonly assetstores: AssetstoresService,
    private readonly access: AccessService,
  ) {}

  async send(res: Response, name: string, entries: ZipEntry[]): Promise<void> {
    // loaded on the first zip download: most processes never make one (4.5 MiB less resident)
    const { default: archiver } = await import('archiver');
    const user = RequestContext.user();
    res.status(200);
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Disposition', contentDisposition('attachment', name));
    const zip = archiver('zip', { store: true });
    let aborted = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        aborted = true;
        zip.abort();
      }
    });
    zip.on('warning', (err: Error) => this.logger.warn(err.message));
    zip.pipe(res);
    const done = new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      res.on('finish', resolve);
      res.on('close', resolve);
    });
    try {
      for (const entry of entries) {
        if (aborted) break;
        if (entry.kind === 'item') await this.addItem(zip, entry.doc, '');
        else if (entry.kind === 'folder') await this.addFolder(zip, entry.doc, `${entry.doc.name}/`, user);
        else {
          for await (const f of this.folders.childrenOf('collection', entry.doc._id)) {
            if (this.access.has(f, user, AccessLevel.READ)) await this.addFolder(zip, f, `${entry.doc.name}/${f.name}/`, user);
          }
        }
      }
      await zip.finalize();
    } catch (err) {
      zip.abort();
      throw err;
    }
    await done;
  }

  private async addFolder(zip: Archiver, folder: FolderDoc, prefix: string, user: Parameters<AccessService['has']>[1]): Promise<void> {
    zip.append('', { name: prefix });
    for await (const item of this.items.inFolder(folder._id)) await this.addItem(zip, item, prefix);
    for await (const child of this.folders.childrenOf('folder', folder._id)) {
      if (this.access.has(child, user, AccessLevel.READ)) await this.addFolder(zip, child, `${prefix}${child.name}/`, user);
    }
  }

  private async addItem(zip: Archiver, item: ItemDoc, prefix: string): Promise<void> {
    const files = await this.files.ofItem(item._id);
    const single = files.length === 1 && files[0].name === item.name;
    const dir = single ? prefix : `${prefix}${item.name}/`;
    for (const file of files) {
      const stream = await (await this.assetstores.adapter(file.assetstoreId)).openReadStream(file);
      // wait for each entry to be written before opening the next file: one open stream at a time
      await new Promise<void>((resolve, reject) => {
        zip.once('entry', () => resolve());
        stream.once('error', reject);
        zip.append(stream, { name: `${dir}${file.name}`, date: file.updated });
      });
    }
  }
}

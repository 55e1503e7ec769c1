import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Types } from 'mongoose';
import type { Readable } from 'node:stream';
import { AssetstoresService } from '../../assetstores/assetstores.service';
import { AccessDeniedError, AuthenticationError, BadRequestError, ConflictError, NotFoundError, ValidationError } from '../../common/errors';
import { RequestContext } from '../../common/request-context';
import { sameId } from '../access/access.service';
import { EventBus } from '../events/event-bus';
import { FileDoc } from '../tree/schemas/file.schema';
import { FolderDoc } from '../tree/schemas/folder.schema';
import { ItemDoc } from '../tree/schemas/item.schema';
import type { UploadInfo } from '../tree/tree-events';
import { ItemsRepository } from '../tree/repositories/items.repository';
import { FilesRepository } from '../tree/repositories/files.repository';
import { TreeService } from '../tree/tree.service';
import { cleanName } from '../tree/tree-names';
import type { UserDoc } from '../users/user.schema';
import { UploadDoc } from './upload.schema';
import { UploadsRepository } from './uploads.repository';

export type UploadParent = { type: 'folder'; doc: FolderDoc } | { type: 'item'; doc: ItemDoc };

export interface StartUpload {
  parent: UploadParent | null;
  /** Replace the contents of this file instead of making a new one. */
  replace?: FileDoc;
  name: string;
  size: number;
  mimeType?: string;
  assetstoreId?: Types.ObjectId;
}

const KEEP_DONE_MS = 24 * 3600_000;

/**
 * Girder's chunked upload protocol over any assetstore: start, chunks at exact offsets, resume,
 * cancel, finalize. Callers check access to the parent first. Upload state lives in the database
 * and the assetstore, so an upload survives a restart and may continue on another instance.
 */
@Injectable()
export class UploadsService implements OnApplicationBootstrap {
  constructor(
    private readonly repo: UploadsRepository,
    private readonly assetstores: AssetstoresService,
    private readonly tree: TreeService,
    private readonly items: ItemsRepository,
    private readonly files: FilesRepository,
    private readonly events: EventBus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.repo.deleteDoneBefore(new Date(Date.now() - KEEP_DONE_MS));
  }

  /**
   * Starts an upload; an empty file is finished at once and returned as the file. `firstChunk`, the
   * body of the starting request, is written at offset 0 by this request, which holds the chunk
   * lease from the insert on (a small file in one request costs no extra round trips to claim it).
   */
  async start(input: StartUpload, firstChunk?: Readable): Promise<UploadDoc | FileDoc> {
    const user = this.requireUser();
    if (!Number.isSafeInteger(input.size) || input.size < 0) throw new ValidationError('size must be a whole number of bytes, 0 or more.', 'size');
    input = { ...input, name: cleanName(input.name) }; // a bad name is refused before any byte is sent
    const now = new Date();
    const base = {
      userId: user._id,
      name: input.name,
      mimeType: input.mimeType || 'application/octet-stream',
      size: input.size,
      parentType: input.parent?.type ?? null,
      parentId: input.parent?.doc._id ?? null,
      replaceFileId: input.replace?._id ?? null,
    };
    const chosen = await this.events.trigger('model.upload.assetstore', { upload: { ...base, fileId: null }, parent: input.parent?.doc ?? null });
    const assetstore = input.assetstoreId ?? (chosen.responses.at(-1) as Types.ObjectId | undefined) ?? (await this.assetstores.current())._id;
    const adapter = await this.assetstores.adapter(assetstore);
    const _id = new Types.ObjectId();
    const state = await adapter.initUpload({ _id, size: input.size, received: 0, state: {} });
    const writing = firstChunk !== undefined && input.size > 0;
    const upload = await this.repo.insert({
      _id,
      ...base,
      received: 0,
      assetstoreId: assetstore,
      state,
      status: 'uploading',
      lockedUntil: writing ? this.repo.leaseFrom(now) : null,
      fileId: null,
      created: now,
      updated: now,
    });
    if (input.size === 0) return this.finalize(upload);
    if (writing) return this.writeClaimed(upload, 0, firstChunk);
    return upload;
  }

  /** Writes a chunk at `offset`; the last chunk finalizes and returns the file. */
  async chunk(id: Types.ObjectId, offset: number, body: Readable): Promise<UploadDoc | FileDoc> {
    const upload = await this.load(id);
    if (upload.status === 'done') {
      // a retried last chunk: the upload already became this file
      body.resume();
      if (offset === upload.size && upload.fileId) return this.fileOf(upload.fileId);
      throw new BadRequestError(`Server has received ${upload.size} bytes, but client sent offset ${offset}.`);
    }
    if (upload.status === 'finalizing') {
      body.resume();
      throw new ConflictError('This upload is being finalized; ask GET /file/offset or retry shortly.');
    }
    if (offset !== upload.received) {
      body.resume();
      throw new BadRequestError(`Server has received ${upload.received} bytes, but client sent offset ${offset}.`);
    }
    if (!(await this.repo.claimChunk(upload._id, offset))) {
      body.resume();
      throw new ConflictError('Another chunk of this upload is being written; retry after it.');
    }
    return this.writeClaimed(upload, offset, body);
  }

  /** Writes a chunk whose lease this request holds; the last one moves straight on to finalizing. */
  private async writeClaimed(upload: UploadDoc, offset: number, body: Readable): Promise<UploadDoc | FileDoc> {
    const adapter = await this.assetstores.adapter(upload.assetstoreId);
    let written: number;
    try {
      written = await adapter.uploadChunk({ _id: upload._id, size: upload.size, received: offset, state: upload.state }, body);
    } catch (err) {
      await this.repo.releaseChunk(upload._id);
      throw err;
    }
    const received = offset + written;
    const updated = { ...upload, received, lockedUntil: null };
    if (received !== upload.size) {
      await this.repo.finishChunk(upload._id, received);
      return updated;
    }
    // the lease holder of the last chunk is the one caller that finalizes
    await this.repo.finishLastChunk(upload._id, received);
    return this.finalizeClaimed({ ...updated, status: 'finalizing' });
  }

  async offset(id: Types.ObjectId): Promise<{ offset: number }> {
    const upload = await this.load(id);
    if (upload.status === 'done') return { offset: upload.size };
    const adapter = await this.assetstores.adapter(upload.assetstoreId);
    return { offset: await adapter.requestOffset({ _id: upload._id, size: upload.size, received: upload.received, state: upload.state }) };
  }

  async cancel(id: Types.ObjectId): Promise<void> {
    const upload = await this.load(id);
    if (upload.status === 'done') throw new ConflictError('This upload has already finished.');
    const adapter = await this.assetstores.adapter(upload.assetstoreId);
    await adapter.cancelUpload({ _id: upload._id, size: upload.size, received: upload.received, state: upload.state });
    await this.repo.delete(upload._id);
  }

  /** Explicit finalize (`POST /file/completion`); also how a stalled finalization is retried. */
  async complete(id: Types.ObjectId): Promise<FileDoc> {
    const upload = await this.load(id);
    if (upload.status === 'done' && upload.fileId) return this.fileOf(upload.fileId);
    if (upload.received !== upload.size) throw new BadRequestError(`Server has received ${upload.received} of ${upload.size} bytes.`);
    return this.finalize(upload);
  }

  /**
   * Girder's finalize steps: `model.upload.finalize`; the item (new, auto-renamed, when the parent
   * is a folder); the adapter makes the bytes permanent; `finalizeUpload.before`; the file record
   * (sizes, `model.file.save.created`); `finalizeUpload.after`; `data.process`.
   */
  private async finalize(upload: UploadDoc): Promise<FileDoc> {
    if (!(await this.repo.claimFinalize(upload._id, upload.size))) {
      const again = await this.repo.findById(upload._id);
      if (again?.status === 'done' && again.fileId) return this.fileOf(again.fileId);
      throw new ConflictError('This upload is being finalized by another request.');
    }
    return this.finalizeClaimed(upload);
  }

  /** Finalizes an upload this request moved to `finalizing`. */
  private async finalizeClaimed(upload: UploadDoc): Promise<FileDoc> {
    const info = uploadInfo(upload);
    try {
      await this.events.trigger('model.upload.finalize', info);
      const user = RequestContext.user();
      const adapter = await this.assetstores.adapter(upload.assetstoreId);
      const target = { _id: upload._id, size: upload.size, received: upload.received, state: upload.state };
      const file = await adapter.finalizeUpload(target, async (bytes) => {
        if (upload.replaceFileId) {
          const previous = await this.files.findById(upload.replaceFileId);
          if (!previous) throw new NotFoundError('The file this upload replaces no longer exists.');
          return this.tree.replaceFileContents(previous, { size: upload.size, assetstoreId: upload.assetstoreId, bytes });
        }
        const item = await this.itemFor(upload, user);
        const provisional = { name: upload.name, size: upload.size, mimeType: upload.mimeType, assetstoreId: upload.assetstoreId, bytes };
        await this.events.trigger('model.file.finalizeUpload.before', { file: { ...provisional, itemId: item._id } as unknown as FileDoc, upload: info });
        return this.tree.createFile(item, provisional, user);
      });
      await this.repo.markDone(upload._id, file._id);
      await this.events.trigger('model.file.finalizeUpload.after', { file, upload: info });
      await this.events.trigger('data.process', { file, upload: { ...info, fileId: file._id } });
      return file;
    } catch (err) {
      await this.repo.markUploading(upload._id); // a retry of the last chunk, or completion, may finish it
      throw err;
    }
  }

  private async itemFor(upload: UploadDoc, user: UserDoc | null): Promise<ItemDoc> {
    if (upload.parentType === 'item') {
      const item = await this.items.findById(upload.parentId!);
      if (!item) throw new NotFoundError('The item this upload goes to no longer exists.');
      return item;
    }
    const folder = await this.tree.folderById(upload.parentId!);
    if (!folder) throw new NotFoundError('The folder this upload goes to no longer exists.');
    // Girder: an upload into a folder makes an item named after the file, renamed on a clash
    return this.tree.createItem(folder, { name: upload.name }, { allowRename: true, creator: user });
  }

  private async load(id: Types.ObjectId): Promise<UploadDoc> {
    const user = this.requireUser();
    const upload = await this.repo.findById(id);
    if (!upload) throw new NotFoundError(`Upload not found: ${id}`);
    if (!user.admin && !sameId(upload.userId, user._id)) throw new AccessDeniedError('Only the user who started this upload may continue it.');
    return upload;
  }

  private async fileOf(id: Types.ObjectId): Promise<FileDoc> {
    const file = await this.files.findById(id);
    if (!file) throw new NotFoundError('The file of this upload no longer exists.');
    return file;
  }

  private requireUser(): UserDoc {
    const user = RequestContext.user();
    if (!user) throw new AuthenticationError();
    return user;
  }
}

function uploadInfo(upload: UploadDoc): UploadInfo {
  return {
    _id: upload._id,
    name: upload.name,
    size: upload.size,
    mimeType: upload.mimeType,
    parentType: upload.parentType,
    parentId: upload.parentId,
    fileId: upload.replaceFileId,
    userId: upload.userId,
    assetstoreId: upload.assetstoreId,
  };
}

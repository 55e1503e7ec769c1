import type { Types } from 'mongoose';
import type { SaveInfo } from '../events/event-map';
import type { CollectionDoc } from './schemas/collection.schema';
import type { FileDoc } from './schemas/file.schema';
import type { FolderDoc } from './schemas/folder.schema';
import type { ItemDoc } from './schemas/item.schema';

/**
 * `info` of a folder's or an item's `model.<type>.save` and `.save.after`: `{doc, previous?}` and,
 * when the write holds it, `parent`: the folder `doc` is in (an item's folder, a folder's parent
 * folder), so that handlers need not read it again. Absent when that parent is a user or a
 * collection, or when the write did not need to read it (an edit in place).
 */
export interface NodeSaveInfo<T> extends SaveInfo<T> {
  parent?: FolderDoc;
}

export interface CopyInfo<T> {
  source: T;
  doc: T;
}

/** The upload fields handlers see (the stored record, without adapter internals). */
export interface UploadInfo {
  _id: Types.ObjectId;
  name: string;
  size: number;
  mimeType: string;
  parentType: 'folder' | 'item' | null;
  parentId: Types.ObjectId | null;
  fileId: Types.ObjectId | null;
  userId: Types.ObjectId;
  assetstoreId: Types.ObjectId;
}

declare module '../events/event-map' {
  interface EventMap {
    'model.collection.save': SaveInfo<CollectionDoc>;
    'model.collection.save.created': CollectionDoc;
    'model.collection.save.after': SaveInfo<CollectionDoc>;
    'model.collection.remove': CollectionDoc;
    'model.collection.remove.after': CollectionDoc;
    'model.folder.save': NodeSaveInfo<FolderDoc>;
    'model.folder.save.created': FolderDoc;
    'model.folder.save.after': NodeSaveInfo<FolderDoc>;
    'model.folder.remove': FolderDoc;
    'model.folder.remove.after': FolderDoc;
    'model.folder.copy.prepare': CopyInfo<FolderDoc>;
    'model.folder.copy.after': CopyInfo<FolderDoc>;
    'model.item.save': NodeSaveInfo<ItemDoc>;
    'model.item.save.created': ItemDoc;
    'model.item.save.after': NodeSaveInfo<ItemDoc>;
    'model.item.remove': ItemDoc;
    'model.item.remove.after': ItemDoc;
    'model.item.copy.prepare': CopyInfo<ItemDoc>;
    'model.item.copy.after': CopyInfo<ItemDoc>;
    'model.file.save': SaveInfo<FileDoc>;
    'model.file.save.created': FileDoc;
    'model.file.save.after': SaveInfo<FileDoc>;
    'model.file.remove': FileDoc;
    'model.file.remove.after': FileDoc;
    'model.file.copy.prepare': CopyInfo<FileDoc>;
    'model.file.copy.after': CopyInfo<FileDoc>;
    /** Choosing where an upload's bytes go: a handler may add an assetstore id as a response. */
    'model.upload.assetstore': { upload: Omit<UploadInfo, '_id' | 'assetstoreId'>; parent: FolderDoc | ItemDoc | null };
    'model.upload.finalize': UploadInfo;
    'model.file.finalizeUpload.before': { file: FileDoc; upload: UploadInfo };
    'model.file.finalizeUpload.after': { file: FileDoc; upload: UploadInfo };
    'data.process': { file: FileDoc; upload: UploadInfo };
  }
}

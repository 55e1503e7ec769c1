import { Schema, Types } from 'mongoose';

/**
 * An upload in progress (collection `upload`), resumable across restarts and instances: `received`
 * is the truth about how far it got. A finished upload keeps `fileId` for a while so a retried last
 * chunk gets the same file back (finalize is idempotent).
 */
export interface UploadDoc {
  _id: Types.ObjectId;
  userId: Types.ObjectId;
  name: string;
  mimeType: string;
  size: number;
  received: number;
  parentType: 'folder' | 'item' | null;
  parentId: Types.ObjectId | null;
  /** Set when the upload replaces the contents of this file. */
  replaceFileId: Types.ObjectId | null;
  assetstoreId: Types.ObjectId;
  /** Adapter state (e.g. the temp file name). */
  state: Record<string, unknown>;
  status: 'uploading' | 'finalizing' | 'done';
  /** A chunk is being written until then (guards against two writers at one offset). */
  lockedUntil: Date | null;
  fileId: Types.ObjectId | null;
  created: Date;
  updated: Date;
}

export const UPLOAD_MODEL = 'upload';

export const UploadSchema = new Schema<UploadDoc>(
  {
    userId: { type: Schema.Types.ObjectId, required: true },
    name: { type: String, required: true },
    mimeType: { type: String, default: 'application/octet-stream' },
    size: { type: Number, required: true },
    received: { type: Number, default: 0 },
    parentType: { type: String, enum: ['folder', 'item', null], default: null },
    parentId: { type: Schema.Types.ObjectId, default: null },
    replaceFileId: { type: Schema.Types.ObjectId, default: null },
    assetstoreId: { type: Schema.Types.ObjectId, required: true },
    state: { type: Schema.Types.Mixed, default: {} },
    status: { type: String, enum: ['uploading', 'finalizing', 'done'], default: 'uploading' },
    lockedUntil: { type: Date, default: null },
    fileId: { type: Schema.Types.ObjectId, default: null },
    created: { type: Date, required: true },
    updated: { type: Date, required: true },
  },
  { collection: 'upload', versionKey: false, minimize: false },
);
UploadSchema.index({ userId: 1 });
UploadSchema.index({ status: 1, updated: 1 });

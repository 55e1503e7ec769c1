import { Schema, Types } from 'mongoose';

/**
 * A file: bytes of an item, held by an assetstore. `sha512` and `path` locate the bytes and never
 * leave the server.
 */
export interface FileDoc {
  _id: Types.ObjectId;
  name: string;
  itemId: Types.ObjectId;
  size: number;
  mimeType: string;
  exts: string[];
  assetstoreId: Types.ObjectId;
  sha512: string | null;
  path: string | null;
  creatorId: Types.ObjectId | null;
  created: Date;
  updated: Date;
  hatrac?: Record<string, unknown> | null;
}

export const FILE_MODEL = 'file';

export const FileSchema = new Schema<FileDoc>(
  {
    name: { type: String, required: true },
    itemId: { type: Schema.Types.ObjectId, required: true },
    size: { type: Number, required: true },
    mimeType: { type: String, default: 'application/octet-stream' },
    exts: { type: [String], default: [] },
    assetstoreId: { type: Schema.Types.ObjectId, required: true },
    sha512: { type: String, default: null },
    path: { type: String, default: null },
    creatorId: { type: Schema.Types.ObjectId, default: null },
    created: { type: Date, required: true },
    updated: { type: Date, required: true },
    hatrac: { type: Schema.Types.Mixed, default: null },
  },
  { collection: 'file', versionKey: false, minimize: false },
);
FileSchema.index({ itemId: 1 });
FileSchema.index({ assetstoreId: 1, sha512: 1 });

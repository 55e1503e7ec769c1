import { Schema, Types } from 'mongoose';
import type { Acl } from './hatrac-acl';

/**
 * Hatrac's directory: one record per namespace or object name ever created (`_id` = the full name
 * as written, `/` for the root). Records are never removed: a deleted name keeps its record with
 * `deleted`, so it is never reused. The tree node (folder or item) holds the live view; `nodeId`
 * points at it. Keyed by name, a name and all its ancestors load in one primary-key query.
 */
export interface HatracNameDoc {
  _id: string;
  kind: 'namespace' | 'object';
  deleted: boolean;
  nodeId: Types.ObjectId | null;
  acl: Acl;
  /** Objects: the serial of the next version (the newest live version is the current one). */
  nextSerial: number;
  created: Date;
}

export const HATRAC_NAME_MODEL = 'hatrac_name';

export const HatracNameSchema = new Schema<HatracNameDoc>(
  {
    _id: { type: String, required: true },
    kind: { type: String, enum: ['namespace', 'object'], required: true },
    deleted: { type: Boolean, default: false },
    nodeId: { type: Schema.Types.ObjectId, default: null },
    acl: { type: Schema.Types.Mixed, default: {} },
    nextSerial: { type: Number, default: 1 },
    created: { type: Date, required: true },
  },
  { collection: 'hatrac_name', versionKey: false, minimize: false },
);
HatracNameSchema.index({ nodeId: 1 });

/** Version fields kept on the tree's file record (`file.hatrac`). */
export interface HatracVersionInfo {
  version: string;
  serial: number;
  /** content-type, content-disposition, content-md5 and content-sha256 (checksums as hex). */
  metadata: Record<string, string>;
  acl: Acl;
  /** Set on a source version by a rename: GETs follow it to the target. */
  renameTo?: [string, string] | null;
  /** Set on a rename target version: where it came from (a repeated rename is a no-op). */
  renamedFrom?: [string, string] | null;
}

/** A chunked upload job (reference §4.6). The bytes are an assetstore upload with the same `_id`. */
export interface HatracJobDoc {
  _id: Types.ObjectId;
  job: string;
  name: string;
  nbytes: number;
  chunkLength: number;
  metadata: Record<string, string>;
  owner: string[];
  /** Chunk numbers fully written. */
  chunks: number[];
  assetstoreId: Types.ObjectId;
  state: Record<string, unknown>;
  created: Date;
}

export const HATRAC_JOB_MODEL = 'hatrac_upload';

export const HatracJobSchema = new Schema<HatracJobDoc>(
  {
    job: { type: String, required: true },
    name: { type: String, required: true },
    nbytes: { type: Number, required: true },
    chunkLength: { type: Number, required: true },
    metadata: { type: Schema.Types.Mixed, default: {} },
    owner: { type: [String], default: [] },
    chunks: { type: [Number], default: [] },
    assetstoreId: { type: Schema.Types.ObjectId, required: true },
    state: { type: Schema.Types.Mixed, default: {} },
    created: { type: Date, required: true },
  },
  { collection: 'hatrac_upload', versionKey: false, minimize: false },
);
HatracJobSchema.index({ job: 1 }, { unique: true });
HatracJobSchema.index({ name: 1 });

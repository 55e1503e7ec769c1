import { Schema, Types } from 'mongoose';
import type { AccessList } from '../../access/access-level';
import { AccessListSchema, BaseParentType, ParentType } from './common';

/**
 * A folder. `size` counts the items directly inside (as Girder); `sizeRecursive` the whole subtree.
 * `mapping` marks a folder mirrored by a directory on disk (home-dirs plugin); `hatrac` a Hatrac
 * namespace.
 */
export interface FolderDoc {
  _id: Types.ObjectId;
  name: string;
  lowerName: string;
  description: string;
  parentId: Types.ObjectId;
  parentCollection: ParentType;
  baseParentType: BaseParentType;
  baseParentId: Types.ObjectId;
  creatorId: Types.ObjectId | null;
  public: boolean;
  access: AccessList;
  meta: Record<string, unknown>;
  size: number;
  sizeRecursive: number;
  created: Date;
  updated: Date;
  mapping?: { realm: string; key: string } | null;
  hatrac?: Record<string, unknown> | null;
}

export const FOLDER_MODEL = 'folder';

export const FolderSchema = new Schema<FolderDoc>(
  {
    name: { type: String, required: true },
    lowerName: { type: String, required: true },
    description: { type: String, default: '' },
    parentId: { type: Schema.Types.ObjectId, required: true },
    parentCollection: { type: String, enum: ['user', 'collection', 'folder'], required: true },
    baseParentType: { type: String, enum: ['user', 'collection'], required: true },
    baseParentId: { type: Schema.Types.ObjectId, required: true },
    creatorId: { type: Schema.Types.ObjectId, default: null },
    public: { type: Boolean, default: false },
    access: AccessListSchema,
    meta: { type: Schema.Types.Mixed, default: {} },
    size: { type: Number, default: 0 },
    sizeRecursive: { type: Number, default: 0 },
    created: { type: Date, required: true },
    updated: { type: Date, required: true },
    mapping: { type: Schema.Types.Mixed, default: null },
    hatrac: { type: Schema.Types.Mixed, default: null },
  },
  { collection: 'folder', versionKey: false, minimize: false },
);
FolderSchema.index({ parentId: 1, parentCollection: 1, lowerName: 1 }, { unique: true });
FolderSchema.index({ baseParentId: 1 });
FolderSchema.index({ 'mapping.key': 1, 'mapping.realm': 1 });
FolderSchema.index({ 'access.users.id': 1 });
FolderSchema.index({ 'access.groups.id': 1 });

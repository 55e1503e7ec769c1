import { Schema, Types } from 'mongoose';
import type { AccessList } from '../../access/access-level';
import { AccessListSchema } from './common';

/** A collection (root of a tree, beside users). `size` is the total of its whole subtree. */
export interface CollectionDoc {
  _id: Types.ObjectId;
  name: string;
  lowerName: string;
  description: string;
  public: boolean;
  access: AccessList;
  creatorId: Types.ObjectId | null;
  meta: Record<string, unknown>;
  size: number;
  created: Date;
  updated: Date;
}

export const COLLECTION_MODEL = 'collection';

export const CollectionSchema = new Schema<CollectionDoc>(
  {
    name: { type: String, required: true },
    lowerName: { type: String, required: true },
    description: { type: String, default: '' },
    public: { type: Boolean, default: false },
    access: AccessListSchema,
    creatorId: { type: Schema.Types.ObjectId, default: null },
    meta: { type: Schema.Types.Mixed, default: {} },
    size: { type: Number, default: 0 },
    created: { type: Date, required: true },
    updated: { type: Date, required: true },
  },
  { collection: 'collection', versionKey: false, minimize: false },
);
CollectionSchema.index({ lowerName: 1 }, { unique: true });
CollectionSchema.index({ 'access.users.id': 1 });
CollectionSchema.index({ 'access.groups.id': 1 });

import { Schema, Types } from 'mongoose';
import { BaseParentType } from './common';

/** An item: lives in a folder, takes its access from it, `size` = the sum of its files. */
export interface ItemDoc {
  _id: Types.ObjectId;
  name: string;
  lowerName: string;
  description: string;
  folderId: Types.ObjectId;
  baseParentType: BaseParentType;
  baseParentId: Types.ObjectId;
  creatorId: Types.ObjectId | null;
  meta: Record<string, unknown>;
  size: number;
  created: Date;
  updated: Date;
  copyOfItem?: Types.ObjectId | null;
  hatrac?: Record<string, unknown> | null;
}

export const ITEM_MODEL = 'item';

export const ItemSchema = new Schema<ItemDoc>(
  {
    name: { type: String, required: true },
    lowerName: { type: String, required: true },
    description: { type: String, default: '' },
    folderId: { type: Schema.Types.ObjectId, required: true },
    baseParentType: { type: String, enum: ['user', 'collection'], required: true },
    baseParentId: { type: Schema.Types.ObjectId, required: true },
    creatorId: { type: Schema.Types.ObjectId, default: null },
    meta: { type: Schema.Types.Mixed, default: {} },
    size: { type: Number, default: 0 },
    created: { type: Date, required: true },
    updated: { type: Date, required: true },
    copyOfItem: { type: Schema.Types.ObjectId, default: null },
    hatrac: { type: Schema.Types.Mixed, default: null },
  },
  { collection: 'item', versionKey: false, minimize: false },
);
ItemSchema.index({ folderId: 1, lowerName: 1 }, { unique: true });
ItemSchema.index({ baseParentId: 1 });

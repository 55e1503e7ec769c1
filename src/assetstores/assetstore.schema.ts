import { Schema } from 'mongoose';
import type { AssetstoreDoc } from './assetstore';

export const ASSETSTORE_MODEL = 'assetstore';

export const AssetstoreSchema = new Schema<AssetstoreDoc>(
  {
    name: { type: String, required: true },
    type: { type: String, required: true },
    current: { type: Boolean, default: false },
    created: { type: Date, required: true },
    root: { type: String },
  },
  { collection: 'assetstore', versionKey: false, strict: false },
);
AssetstoreSchema.index({ name: 1 }, { unique: true });

import { Schema, Types } from 'mongoose';

/**
 * An API key (collection `api_key`). Like tokens, only a SHA-256 of the key is stored; the key is
 * shown once, when it is made. `scope: null` means full access.
 */
export interface ApiKeyDoc {
  _id: Types.ObjectId;
  userId: Types.ObjectId;
  name: string;
  keyHash: string;
  scope: string[] | null;
  /** Cap, in days, on the lifetime of tokens made from this key (null: the server's lifetime). */
  tokenDuration: number | null;
  active: boolean;
  lastUse: Date | null;
  created: Date;
}

export const API_KEY_MODEL = 'api_key';

export const ApiKeySchema = new Schema<ApiKeyDoc>(
  {
    userId: { type: Schema.Types.ObjectId, required: true },
    name: { type: String, default: '' },
    keyHash: { type: String, required: true },
    scope: { type: [String], default: null },
    tokenDuration: { type: Number, default: null },
    active: { type: Boolean, default: true },
    lastUse: { type: Date, default: null },
    created: { type: Date, required: true },
  },
  { collection: 'api_key', versionKey: false, strict: 'throw' },
);
ApiKeySchema.index({ keyHash: 1 }, { unique: true });
ApiKeySchema.index({ userId: 1 });

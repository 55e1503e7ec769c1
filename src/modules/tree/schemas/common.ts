import { Schema } from 'mongoose';

/** An ACL entry as stored: `{id, level}` (Girder's shape, without flags). */
export const AccessEntrySchema = new Schema(
  { id: { type: Schema.Types.ObjectId, required: true }, level: { type: Number, required: true } },
  { _id: false },
);

export const AccessListSchema = {
  users: { type: [AccessEntrySchema], default: [] },
  groups: { type: [AccessEntrySchema], default: [] },
};

export type ParentType = 'user' | 'collection' | 'folder';
export type BaseParentType = 'user' | 'collection';

import { Schema, Types } from 'mongoose';

/**
 * One reservation per child name in a parent (`_id` = `<parentType>:<parentId>:<lowerName>`).
 * Folders and items share a namespace inside a folder but live in two collections; inserting the
 * reservation first, under the unique `_id`, lets exactly one of two concurrent creates win.
 */
export interface NameDoc {
  _id: string;
  kind: 'folder' | 'item';
  nodeId: Types.ObjectId;
  created: Date;
}

export const NAME_MODEL = 'name';

export const NameSchema = new Schema<NameDoc>(
  {
    _id: { type: String, required: true },
    kind: { type: String, enum: ['folder', 'item'], required: true },
    nodeId: { type: Schema.Types.ObjectId, required: true },
    created: { type: Date, required: true },
  },
  { collection: 'name', versionKey: false },
);
NameSchema.index({ nodeId: 1 });

import { Schema, Types } from 'mongoose';
import type { AccessList } from '../access/access-level';

/**
 * A group (collection `group`). Members are the users whose `groups` hold its id; `access.users`
 * names moderators (WRITE) and group administrators (ADMIN), as in Girder.
 */
export interface GroupDoc {
  _id: Types.ObjectId;
  name: string;
  lowerName: string;
  description: string;
  public: boolean;
  access: AccessList;
  creatorId: Types.ObjectId | null;
  created: Date;
  updated: Date;
}

export const GROUP_MODEL = 'group';

const AccessEntrySchema = new Schema({ id: { type: Schema.Types.ObjectId, required: true }, level: { type: Number, required: true } }, { _id: false });

export const GroupSchema = new Schema<GroupDoc>(
  {
    name: { type: String, required: true },
    lowerName: { type: String, required: true },
    description: { type: String, default: '' },
    public: { type: Boolean, default: false },
    access: {
      users: { type: [AccessEntrySchema], default: [] },
      groups: { type: [AccessEntrySchema], default: [] },
    },
    creatorId: { type: Schema.Types.ObjectId, default: null },
    created: { type: Date, required: true },
    updated: { type: Date, required: true },
  },
  { collection: 'group', versionKey: false, strict: 'throw' },
);
GroupSchema.index({ lowerName: 1 }, { unique: true });
GroupSchema.index({ 'access.users.id': 1 });

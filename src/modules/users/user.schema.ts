import { Schema, Types } from 'mongoose';

export type UserStatus = 'enabled' | 'disabled' | 'pending';

/** A user as stored (collection `user`, Girder's field names; the bcrypt hash is `passwordHash`). */
export interface UserDoc {
  _id: Types.ObjectId;
  login: string;
  email: string;
  firstName: string;
  lastName: string;
  passwordHash: string | null;
  admin: boolean;
  status: UserStatus;
  /** Groups the user belongs to; membership is stored on the user, as Girder does. */
  groups: Types.ObjectId[];
  size: number;
  /**
   * Counts the changes of `size` (each `$inc` adds one), so that copies of the user held in memory
   * keep the newest size however the answers of concurrent changes arrive. Absent before the first.
   */
  sizeVersion?: number;
  created: Date;
  updated: Date;
}

export const USER_MODEL = 'user';

export const UserSchema = new Schema<UserDoc>(
  {
    login: { type: String, required: true },
    email: { type: String, required: true },
    firstName: { type: String, required: true },
    lastName: { type: String, required: true },
    passwordHash: { type: String, default: null },
    admin: { type: Boolean, default: false },
    status: { type: String, enum: ['enabled', 'disabled', 'pending'], default: 'enabled' },
    groups: { type: [Schema.Types.ObjectId], default: [] },
    size: { type: Number, default: 0 },
    sizeVersion: { type: Number, default: 0 },
    created: { type: Date, required: true },
    updated: { type: Date, required: true },
  },
  { collection: 'user', versionKey: false, strict: 'throw' },
);
UserSchema.index({ login: 1 }, { unique: true });
UserSchema.index({ email: 1 }, { unique: true });
UserSchema.index({ groups: 1 });

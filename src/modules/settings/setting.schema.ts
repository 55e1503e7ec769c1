import { Schema, Types } from 'mongoose';

/** One setting (collection `setting`): a key and a JSON value. */
export interface SettingDoc {
  _id: Types.ObjectId;
  key: string;
  value: unknown;
}

export const SETTING_MODEL = 'setting';

export const SettingSchema = new Schema<SettingDoc>(
  { key: { type: String, required: true }, value: { type: Schema.Types.Mixed } },
  { collection: 'setting', versionKey: false, minimize: false },
);
SettingSchema.index({ key: 1 }, { unique: true });

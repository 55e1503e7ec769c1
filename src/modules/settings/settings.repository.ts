import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { isDuplicateKeyError } from '../../common/errors';
import { SETTING_MODEL, SettingDoc } from './setting.schema';

/** Every query on the `setting` collection. */
@Injectable()
export class SettingsRepository {
  constructor(@InjectModel(SETTING_MODEL) private readonly model: Model<SettingDoc>) {}

  async get(key: string): Promise<{ value: unknown } | null> {
    return this.model.findOne({ key }, { value: 1 }).lean<{ value: unknown }>().exec();
  }

  async set(key: string, value: unknown): Promise<void> {
    await this.model.updateOne({ key }, { $set: { value } }, { upsert: true }).exec();
  }

  async unset(key: string): Promise<void> {
    await this.model.deleteOne({ key }).exec();
  }

  /**
   * Writes `key` only if nobody has: true for exactly one caller, however many race (the unique
   * index on `key` decides). Used for one-time facts such as "the first user has been created".
   */
  async claim(key: string, value: unknown): Promise<boolean> {
    try {
      await this.model.create({ key, value });
      return true;
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
  }
}

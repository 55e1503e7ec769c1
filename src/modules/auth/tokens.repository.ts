import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { TOKEN_MODEL, TokenDoc } from './token.schema';

/** Every query on the `token` collection. */
@Injectable()
export class TokensRepository {
  constructor(@InjectModel(TOKEN_MODEL) private readonly model: Model<TokenDoc>) {}

  async insert(doc: Omit<TokenDoc, '_id'>): Promise<TokenDoc> {
    return (await this.model.create(doc)).toObject() as TokenDoc;
  }

  findByHash(hash: string): Promise<TokenDoc | null> {
    return this.model.findOne({ hash }).lean<TokenDoc>().exec();
  }

  async delete(id: Types.ObjectId): Promise<void> {
    await this.model.deleteOne({ _id: id }).exec();
  }

  async deleteForUser(userId: Types.ObjectId, except?: Types.ObjectId): Promise<void> {
    await this.model.deleteMany(except ? { userId, _id: { $ne: except } } : { userId }).exec();
  }

  async deleteForApiKey(apiKeyId: Types.ObjectId): Promise<void> {
    await this.model.deleteMany({ apiKeyId }).exec();
  }
}

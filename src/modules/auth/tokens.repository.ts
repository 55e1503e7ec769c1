import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { driverCollection } from '../../common/driver-collection';
import { CredentialCache } from './credential-cache';
import { TOKEN_MODEL, TokenDoc } from './token.schema';

/** Every query on the `token` collection. Each delete also drops the token from the CredentialCache. */
@Injectable()
export class TokensRepository {
  constructor(
    @InjectModel(TOKEN_MODEL) private readonly model: Model<TokenDoc>,
    private readonly cache: CredentialCache,
  ) {}

  async insert(doc: Omit<TokenDoc, '_id'>): Promise<TokenDoc> {
    return (await this.model.create(doc)).toObject() as TokenDoc;
  }

  findByHash(hash: string): Promise<TokenDoc | null> {
    const direct = typeof hash === 'string' ? driverCollection(this.model) : undefined;
    if (direct) return direct.findOne({ hash }) as Promise<TokenDoc | null>;
    return this.model.findOne({ hash }).lean<TokenDoc>().exec();
  }

  // The cache forgets after the database has answered (and also when the write failed, as it may
  // have happened): a request after this one returns asks the database again.

  async delete(id: Types.ObjectId): Promise<void> {
    try {
      await this.model.deleteOne({ _id: id }).exec();
    } finally {
      this.cache.forgetToken(id);
    }
  }

  async deleteForUser(userId: Types.ObjectId, except?: Types.ObjectId): Promise<void> {
    try {
      await this.model.deleteMany(except ? { userId, _id: { $ne: except } } : { userId }).exec();
    } finally {
      this.cache.forgetTokensOfUser(userId, except);
    }
  }

  async deleteForApiKey(apiKeyId: Types.ObjectId): Promise<void> {
    try {
      await this.model.deleteMany({ apiKeyId }).exec();
    } finally {
      this.cache.forgetTokensOfApiKey(apiKeyId);
    }
  }
}

import { Schema, Types } from 'mongoose';

/** Scopes a token may carry (Girder's names). `core.user_auth` passes every check. */
export const TokenScope = {
  USER_AUTH: 'core.user_auth',
  DATA_READ: 'core.data.read',
  DATA_WRITE: 'core.data.write',
  DATA_OWN: 'core.data.own',
  USER_INFO_READ: 'core.user_info.read',
} as const;

export const SCOPE_DESCRIPTIONS: Record<string, string> = {
  [TokenScope.USER_AUTH]: 'Full access as the user.',
  [TokenScope.DATA_READ]: 'Read data the user can read.',
  [TokenScope.DATA_WRITE]: 'Write data the user can write.',
  [TokenScope.DATA_OWN]: 'Administer data the user owns (access control, deletion).',
  [TokenScope.USER_INFO_READ]: 'Read the user’s own profile.',
};

/**
 * A login token (collection `token`). Only a SHA-256 of the secret is stored; the secret is shown
 * once, when the token is made. `expires` is checked on every use; the TTL index only tidies up.
 */
export interface TokenDoc {
  _id: Types.ObjectId;
  hash: string;
  userId: Types.ObjectId;
  scope: string[];
  created: Date;
  expires: Date;
  apiKeyId?: Types.ObjectId | null;
}

export const TOKEN_MODEL = 'token';

export const TokenSchema = new Schema<TokenDoc>(
  {
    hash: { type: String, required: true },
    userId: { type: Schema.Types.ObjectId, required: true },
    scope: { type: [String], default: [TokenScope.USER_AUTH] },
    created: { type: Date, required: true },
    expires: { type: Date, required: true },
    apiKeyId: { type: Schema.Types.ObjectId, default: null },
  },
  { collection: 'token', versionKey: false, strict: 'throw' },
);
TokenSchema.index({ hash: 1 }, { unique: true });
TokenSchema.index({ userId: 1 });
TokenSchema.index({ apiKeyId: 1 });
TokenSchema.index({ expires: 1 }, { expireAfterSeconds: 0 });

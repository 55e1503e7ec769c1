import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { CredentialCache } from './credential-cache';
import { TokenSchema, TOKEN_MODEL } from './token.schema';
import { TokensRepository } from './tokens.repository';
import { TokenService } from './token.service';

/**
 * Tokens on their own, so that users and auth can both depend on them without a cycle. The
 * CredentialCache lives here too: TokensRepository and UsersRepository both forget what they change.
 */
@Module({
  imports: [MongooseModule.forFeature([{ name: TOKEN_MODEL, schema: TokenSchema }])],
  providers: [TokensRepository, TokenService, CredentialCache],
  exports: [TokenService, CredentialCache],
})
export class TokensModule {}

import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { TokenSchema, TOKEN_MODEL } from './token.schema';
import { TokensRepository } from './tokens.repository';
import { TokenService } from './token.service';

/** Tokens on their own, so that users and auth can both depend on them without a cycle. */
@Module({
  imports: [MongooseModule.forFeature([{ name: TOKEN_MODEL, schema: TokenSchema }])],
  providers: [TokensRepository, TokenService],
  exports: [TokenService],
})
export class TokensModule {}

import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { MongooseModule } from '@nestjs/mongoose';
import { UsersModule } from '../users/users.module';
import { ApiKeyController } from './api-key.controller';
import { ApiKeySchema, API_KEY_MODEL } from './api-key.schema';
import { ApiKeyService } from './api-key.service';
import { ApiKeysRepository } from './api-keys.repository';
import { AuthCookie } from './auth-cookie';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { AuthenticationController } from './authentication.controller';
import { LoginThrottle } from './login-throttle.service';
import { TokenController } from './token.controller';
import { TokensModule } from './tokens.module';

@Global()
@Module({
  imports: [MongooseModule.forFeature([{ name: API_KEY_MODEL, schema: ApiKeySchema }]), TokensModule, UsersModule],
  controllers: [AuthenticationController, TokenController, ApiKeyController],
  providers: [ApiKeysRepository, ApiKeyService, AuthService, LoginThrottle, AuthCookie, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AuthService, ApiKeyService, LoginThrottle, TokensModule],
})
export class AuthModule {}

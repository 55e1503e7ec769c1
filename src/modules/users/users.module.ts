import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AuthCookie } from '../auth/auth-cookie';
import { TokensModule } from '../auth/tokens.module';
import { GroupSchema, GROUP_MODEL } from './group.schema';
import { GroupsController } from './groups.controller';
import { GroupsRepository } from './groups.repository';
import { GroupsService } from './groups.service';
import { Passwords } from './passwords';
import { UserSchema, USER_MODEL } from './user.schema';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: USER_MODEL, schema: UserSchema },
      { name: GROUP_MODEL, schema: GroupSchema },
    ]),
    TokensModule,
  ],
  controllers: [UsersController, GroupsController],
  providers: [UsersRepository, UsersService, GroupsRepository, GroupsService, Passwords, AuthCookie],
  exports: [UsersService, UsersRepository, GroupsRepository, GroupsService, Passwords],
})
export class UsersModule {}

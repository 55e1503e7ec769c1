import { Body, Controller, Delete, Get, Param, Put, Query, Res } from '@nestjs/common';
import { Post } from '../../common/routes';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Types } from 'mongoose';
import { ObjectIdPipe, paging } from '../../common/params';
import { RequestContext } from '../../common/request-context';
import { Access } from '../auth/access.decorators';
import { AuthCookie } from '../auth/auth-cookie';
import { TokenScope } from '../auth/token.schema';
import { mapToken, TokenService } from '../auth/token.service';
import { mapUser } from './user.mapper';
import { AdminSetPasswordDto, ChangePasswordDto, CreateUserDto, ListUsersQuery, UpdateUserDto } from './user.dto';
import { UsersService } from './users.service';

@ApiTags('user')
@Controller('user')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly tokens: TokenService,
    private readonly cookie: AuthCookie,
  ) {}

  @Post()
  @Access.public()
  @ApiOperation({ summary: 'Register a user (the first user becomes a site admin)' })
  async create(@Query() dto: CreateUserDto, @Res({ passthrough: true }) res: Response) {
    const caller = RequestContext.user();
    const user = await this.users.register(dto);
    const out = mapUser(user, caller ?? user);
    if (caller) return out;
    // A self-registered user is logged in at once, as in Girder.
    const issued = await this.tokens.issue(user._id);
    this.cookie.set(res, issued);
    return { ...out, authToken: mapToken(issued) };
  }

  @Get('me')
  @Access.public({ scope: TokenScope.USER_INFO_READ, cookie: true })
  @ApiOperation({ summary: 'The current user, or null when anonymous' })
  me() {
    const user = RequestContext.user();
    return user ? mapUser(user, user) : null;
  }

  @Get()
  @Access.user({ scope: TokenScope.USER_INFO_READ })
  @ApiOperation({ summary: 'List or search users' })
  async list(@Query() q: ListUsersQuery, @Res({ passthrough: true }) res: Response) {
    const { users, total } = await this.users.search(q.text, paging(q, ['lastName', 'firstName', 'login', 'created', 'size', '_id'], 'lastName'));
    res.setHeader('Girder-Total-Count', String(total));
    const viewer = RequestContext.user();
    return users.map((u) => mapUser(u, viewer));
  }

  @Put('password')
  @Access.user()
  @ApiOperation({ summary: 'Change your password (old + new); ends your other sessions' })
  async changePassword(@Query() dto: ChangePasswordDto) {
    const { user, token } = RequestContext.current();
    await this.users.changePassword(user!, dto.old, dto.new, token?._id);
    return { message: 'Your password has been changed.' };
  }

  @Get(':id')
  @Access.user({ scope: TokenScope.USER_INFO_READ })
  @ApiOperation({ summary: 'Get a user' })
  async get(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    return mapUser(await this.users.get(id), RequestContext.user());
  }

  @Put(':id')
  @Access.user()
  @ApiOperation({ summary: 'Update a user (yourself, or anyone as site admin)' })
  async update(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: UpdateUserDto) {
    return mapUser(await this.users.update(id, dto), RequestContext.user());
  }

  @Put(':id/password')
  @Access.admin()
  @ApiOperation({ summary: 'Set a user’s password (site admin); ends their sessions' })
  async setPassword(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: AdminSetPasswordDto) {
    const user = await this.users.get(id);
    await this.users.setPassword(user, dto.password);
    return { message: 'The password has been changed.' };
  }

  @Delete(':id')
  @Access.user()
  @ApiOperation({ summary: 'Delete a user (yourself, or anyone as site admin)' })
  async delete(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const user = await this.users.get(id);
    await this.users.delete(id);
    return { message: `Deleted user ${user.login}.` };
  }
}

import { Controller, Delete, Get, Param, Put, Query, Req, Res } from '@nestjs/common';
import { Post } from '../../common/routes';
import { ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsNumber, IsOptional, IsString } from 'class-validator';
import type { Request, Response } from 'express';
import { Types } from 'mongoose';
import { AuthenticationError } from '../../common/errors';
import { ObjectIdPipe, paging, PagingQuery, parseJsonParam, parseObjectId, toBoolean } from '../../common/params';
import { RequestContext } from '../../common/request-context';
import { idString, isoDate } from '../../common/serialize';
import { UsersRepository } from '../users/users.repository';
import { Access } from './access.decorators';
import { ApiKeyDoc } from './api-key.schema';
import { ApiKeyService } from './api-key.service';
import { LoginThrottle } from './login-throttle.service';
import { mapToken } from './token.service';

class ApiKeyDto {
  @ApiPropertyOptional() @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional({ description: 'JSON list of scopes, or null for full access' }) @IsOptional() @IsString() scope?: string;
  @ApiPropertyOptional({ description: 'Maximum lifetime, in days, of tokens made from the key' })
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  tokenDuration?: number;
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() active?: boolean;
}

class ListKeysQuery extends PagingQuery {
  @ApiPropertyOptional({ description: 'Whose keys (site admins only for others)' }) @IsOptional() @IsString() userId?: string;
}

class KeyTokenDto {
  @ApiProperty() @IsString() key!: string;
  @ApiPropertyOptional({ description: 'Token lifetime in days (capped by the key)' }) @IsOptional() @Type(() => Number) @IsNumber() duration?: number;
}

@ApiTags('api_key')
@Controller('api_key')
export class ApiKeyController {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly users: UsersRepository,
    private readonly throttle: LoginThrottle,
  ) {}

  @Post()
  @Access.user()
  @ApiOperation({ summary: 'Create an API key; the key itself is in this answer only' })
  async create(@Query() dto: ApiKeyDto) {
    const { key, doc } = await this.keys.create(this.input(dto));
    return { ...map(doc), key };
  }

  @Get()
  @Access.user()
  @ApiOperation({ summary: 'List your API keys (or a user’s, as site admin); keys themselves are never shown again' })
  async list(@Query() q: ListKeysQuery, @Res({ passthrough: true }) res: Response) {
    const userId = q.userId ? parseObjectId(q.userId, 'userId') : RequestContext.user()!._id;
    const { keys, total } = await this.keys.list(userId, paging(q, ['name', 'created', 'lastUse', '_id'], 'name'));
    res.setHeader('Girder-Total-Count', String(total));
    return keys.map(map);
  }

  @Post('token')
  @Access.public()
  @ApiOperation({ summary: 'Trade an API key for a token' })
  async token(@Query() dto: KeyTokenDto, @Req() req: Request) {
    // Guessing keys counts as failed logins of the client address.
    const throttleKey = `api-key:${req.ip}`;
    await this.throttle.assertAllowed(throttleKey, req.ip);
    const key = await this.keys.resolve(dto.key);
    if (!key) {
      await this.throttle.recordFailure(throttleKey, req.ip);
      throw new AuthenticationError('Invalid or inactive API key.');
    }
    const user = await this.users.findById(key.userId);
    if (!user || user.status !== 'enabled') throw new AuthenticationError('Invalid or inactive API key.');
    const issued = await this.keys.issueToken(key, dto.duration);
    return { user: { _id: idString(user._id), login: user.login }, authToken: mapToken(issued) };
  }

  @Put(':id')
  @Access.user()
  @ApiOperation({ summary: 'Edit an API key; deactivating it revokes its tokens' })
  async update(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: ApiKeyDto) {
    return map(await this.keys.update(id, this.input(dto)));
  }

  @Delete(':id')
  @Access.user()
  @ApiOperation({ summary: 'Delete an API key and revoke its tokens' })
  async delete(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    await this.keys.delete(id);
    return { message: 'Deleted API key.' };
  }

  private input(dto: ApiKeyDto) {
    return {
      name: dto.name,
      scope: dto.scope === undefined ? undefined : parseJsonParam<string[] | null>(dto.scope, 'scope'),
      tokenDuration: dto.tokenDuration,
      active: dto.active,
    };
  }
}

function map(doc: ApiKeyDoc) {
  return {
    _id: idString(doc._id),
    _modelType: 'api_key',
    userId: idString(doc.userId),
    name: doc.name,
    scope: doc.scope,
    tokenDuration: doc.tokenDuration,
    active: doc.active,
    lastUse: isoDate(doc.lastUse),
    created: isoDate(doc.created),
  };
}

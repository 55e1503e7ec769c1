import { Controller, Delete, Get, Param, Put, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import type { Response } from 'express';
import { Types } from 'mongoose';
import { ValidationError } from '../../common/errors';
import { ObjectIdPipe, parseJsonParam, parseObjectId } from '../../common/params';
import { Post } from '../../common/routes';
import { RequestContext } from '../../common/request-context';
import { AccessLevel } from '../access/access-level';
import { Access } from '../auth/access.decorators';
import { TokenScope } from '../auth/token.schema';
import { escapeSearch } from '../tree/search';
import { TreeReader } from '../tree/tree-reader.service';
import { mapCollection, mapFile, mapFolder, mapItem } from '../tree/tree.mapper';
import { ZipEntry, ZipService } from '../tree/zip.service';
import { mapUser } from '../users/user.mapper';
import { UsersService } from '../users/users.service';
import { Resource, ResourcesService } from './resources.service';

class LookupQuery {
  @ApiProperty({ description: '/user/<login>/… or /collection/<name>/…' }) @IsString() path!: string;
}
class PathQuery {
  @ApiProperty({ enum: ['user', 'collection', 'folder', 'item', 'file'] }) @IsString() type!: string;
}
class SearchQuery {
  @ApiProperty() @IsString() q!: string;
  @ApiPropertyOptional({ enum: ['prefix', 'text'], default: 'text' }) @IsOptional() @IsIn(['prefix', 'text']) mode?: string;
  @ApiProperty({ description: 'JSON list of types: user, collection, folder, item' }) @IsString() types!: string;
  @ApiPropertyOptional({ default: 10 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000) limit?: number;
  @ApiPropertyOptional({ default: 0 }) @IsOptional() @Type(() => Number) @IsInt() @Min(0) offset?: number;
}
class ResourcesDto {
  @ApiProperty({ description: 'JSON: {"folder": [ids], "item": [ids]}' }) @IsString() resources!: string;
}
class MoveDto extends ResourcesDto {
  @ApiProperty({ enum: ['folder', 'user', 'collection'] }) @IsIn(['folder', 'user', 'collection']) parentType!: string;
  @ApiProperty() @IsString() parentId!: string;
}

@ApiTags('resource')
@Controller('resource')
export class ResourceController {
  constructor(
    private readonly resources: ResourcesService,
    private readonly reader: TreeReader,
    private readonly users: UsersService,
    private readonly zip: ZipService,
  ) {}

  @Get('lookup')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'Find a node by path; missing and unreadable both answer 404' })
  async lookup(@Query() q: LookupQuery) {
    return this.map(await this.resources.lookup(q.path));
  }

  @Get('search')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'Search users, collections, folders and items by name' })
  async search(@Query() q: SearchQuery) {
    const types = parseJsonParam<unknown>(q.types, 'types');
    if (!Array.isArray(types) || !types.every((t) => ['user', 'collection', 'folder', 'item'].includes(t))) {
      throw new ValidationError('types must be a JSON list of user, collection, folder, item.', 'types');
    }
    const text = q.q.trim().toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = q.mode === 'prefix' ? new RegExp(`^${text}`) : escapeSearch(q.q);
    const page = { limit: q.limit ?? 10, offset: q.offset ?? 0, sort: { lowerName: 1 as const, _id: 1 as const } };
    const found = await this.reader.search(pattern, types as string[], page);
    const out: Record<string, unknown[]> = {};
    if (types.includes('user')) {
      out.user = RequestContext.user() ? (await this.users.search(q.q, { ...page, sort: { login: 1, _id: 1 } })).users.map((u) => mapUser(u, RequestContext.user())) : [];
    }
    if (found.collection) out.collection = found.collection.map((c) => mapCollection(c, this.reader.levelOf(c)));
    if (found.folder) out.folder = found.folder.map((f) => mapFolder(f, this.reader.levelOf(f)));
    if (found.item) {
      const levels = await this.reader.itemLevels(found.item);
      out.item = found.item.map((i, n) => mapItem(i, levels[n]));
    }
    return out;
  }

  @Get('download')
  @Access.public({ scope: TokenScope.DATA_READ, cookie: true })
  @ApiOperation({ summary: 'Download several folders, items and collections as one zip' })
  async download(@Query() dto: ResourcesDto, @Res() res: Response) {
    await this.sendZip(dto, res);
  }

  @Post('download')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'As GET /resource/download, for long id lists' })
  async downloadPost(@Query() dto: ResourcesDto, @Res() res: Response) {
    await this.sendZip(dto, res);
  }

  @Put('move')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Move folders and items into a parent' })
  async move(@Query() dto: MoveDto) {
    const ids = this.resources.parseResources(dto.resources, ['folder', 'item']);
    const parent = await this.reader.loadParent(dto.parentType, parseObjectId(dto.parentId, 'parentId'), AccessLevel.WRITE);
    await this.resources.move(ids, parent);
    return { message: 'Moved.' };
  }

  @Post('copy')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Copy folders and items into a parent' })
  async copy(@Query() dto: MoveDto) {
    const ids = this.resources.parseResources(dto.resources, ['folder', 'item']);
    const parent = await this.reader.loadParent(dto.parentType, parseObjectId(dto.parentId, 'parentId'), AccessLevel.WRITE);
    await this.resources.copy(ids, parent);
    return { message: 'Copied.' };
  }

  @Delete()
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'Delete folders, items and collections' })
  async delete(@Query() dto: ResourcesDto) {
    await this.resources.delete(this.resources.parseResources(dto.resources, ['folder', 'item', 'collection']));
    return { message: 'Deleted.' };
  }

  @Get(':id/path')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'The path of a node; a wrong type or id answers 400 (girder-client relies on it)' })
  path(@Param('id') id: string, @Query() q: PathQuery) {
    let oid: Types.ObjectId;
    try {
      oid = parseObjectId(id, 'id');
    } catch {
      throw new ValidationError(`Invalid resource id ${id}.`, 'id');
    }
    return this.resources.pathOf(oid, q.type);
  }

  private async sendZip(dto: ResourcesDto, res: Response) {
    const ids = this.resources.parseResources(dto.resources, ['folder', 'item', 'collection']);
    const { folders, items, collections } = await this.resources.loadAll(ids, AccessLevel.READ);
    const entries: ZipEntry[] = [
      ...collections.map((doc) => ({ kind: 'collection' as const, doc })),
      ...folders.map((doc) => ({ kind: 'folder' as const, doc })),
      ...items.map((doc) => ({ kind: 'item' as const, doc })),
    ];
    await this.zip.send(res, 'Resources.zip', entries);
  }

  private map(resource: Resource) {
    const user = RequestContext.user();
    switch (resource.type) {
      case 'user':
        return mapUser(resource.doc, user);
      case 'collection':
        return mapCollection(resource.doc, this.reader.levelOf(resource.doc));
      case 'folder':
        return mapFolder(resource.doc, this.reader.levelOf(resource.doc));
      case 'item':
        return mapItem(resource.doc, this.reader.levelOf(resource.folder));
      case 'file':
        return mapFile(resource.doc, user);
    }
  }
}

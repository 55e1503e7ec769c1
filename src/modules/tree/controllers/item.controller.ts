import { Body, Controller, Delete, Get, Param, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Min } from 'class-validator';
import type { Request, Response } from 'express';
import { Types } from 'mongoose';
import { ValidationError } from '../../../common/errors';
import { ObjectIdPipe, paging, PagingQuery, parseObjectId } from '../../../common/params';
import { Post } from '../../../common/routes';
import { RequestContext } from '../../../common/request-context';
import { AccessLevel } from '../../access/access-level';
import { Access } from '../../auth/access.decorators';
import { TokenScope } from '../../auth/token.schema';
import { mapUser } from '../../users/user.mapper';
import type { UserDoc } from '../../users/user.schema';
import { DownloadService } from '../download.service';
import { FilesRepository } from '../repositories/files.repository';
import { ItemDoc } from '../schemas/item.schema';
import { escapeSearch } from '../search';
import { TreeReader } from '../tree-reader.service';
import { CopyDto, CreateItemDto, ListItemsQuery, MetadataQuery, UpdateItemDto } from '../tree.dto';
import { mapCollection, mapFile, mapFolder, mapItem } from '../tree.mapper';
import { ExistingNode, TreeService } from '../tree.service';
import { ZipService } from '../zip.service';
import { keysetPaging } from './folder.controller';
import { metadataBody, metadataKeys, metadataParam } from './metadata';

class ItemDownloadQuery {
  @ApiPropertyOptional() @IsOptional() @Type(() => Number) @IsInt() @Min(0) offset?: number;
  @ApiPropertyOptional({ description: '"zip" forces a zip even for a single file' }) @IsOptional() @IsString() format?: string;
  @ApiPropertyOptional({ enum: ['inline', 'attachment'] }) @IsOptional() @IsIn(['inline', 'attachment']) contentDisposition?: 'inline' | 'attachment';
}

@ApiTags('item')
@Controller('item')
export class ItemController {
  constructor(
    private readonly reader: TreeReader,
    private readonly tree: TreeService,
    private readonly files: FilesRepository,
    private readonly downloads: DownloadService,
    private readonly zip: ZipService,
  ) {}

  @Get()
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'List the items of a folder (folderId), or search them by name (text)' })
  async list(@Query() q: ListItemsQuery, @Res({ passthrough: true }) res: Response) {
    const page = keysetPaging(q);
    if (q.folderId) {
      const { docs, total, level } = await this.reader.listFolderItems(parseObjectId(q.folderId, 'folderId'), page, { name: q.name, after: q.after });
      res.setHeader('Girder-Total-Count', String(total));
      return docs.map((i) => mapItem(i, level));
    }
    if (q.text) {
      const { item = [] } = await this.reader.search(escapeSearch(q.text), ['item'], page);
      const levels = await this.reader.itemLevels(item);
      return item.map((i, n) => mapItem(i, levels[n]));
    }
    throw new ValidationError('Give folderId, or text to search.', 'folderId');
  }

  @Post()
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Create an item in a folder' })
  async create(@Query() dto: CreateItemDto) {
    const folder = await this.reader.loadFolder(parseObjectId(dto.folderId, 'folderId'), AccessLevel.WRITE);
    const level = this.reader.levelOf(folder);
    try {
      const item = await this.tree.createItem(
        folder,
        { name: dto.name, description: dto.description, meta: metadataParam(dto.metadata) },
        { reuseExisting: dto.reuseExisting, creator: this.reader.user() },
      );
      return mapItem(item, level);
    } catch (err) {
      if (err instanceof ExistingNode) return mapItem(err.node as ItemDoc, level);
      throw err;
    }
  }

  @Get(':id')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'Get an item' })
  async get(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const { item, folder } = await this.reader.loadItem(id, AccessLevel.READ);
    return mapItem(item, this.reader.levelOf(folder));
  }

  @Get(':id/files')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'List the files of an item' })
  async listFiles(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() q: PagingQuery, @Res({ passthrough: true }) res: Response) {
    const { item } = await this.reader.loadItem(id, AccessLevel.READ);
    const { docs, total } = await this.reader.listFiles(item, paging(q, ['name', 'created', 'size', '_id'], '_id'));
    res.setHeader('Girder-Total-Count', String(total));
    return docs.map((f) => mapFile(f, this.reader.user()));
  }

  @Get(':id/rootpath')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'The ancestors of an item, from its root down' })
  async rootpath(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const { folder } = await this.reader.loadItem(id, AccessLevel.READ);
    const chain = [...(await this.reader.rootpath(folder)), { type: 'folder', object: folder }];
    return chain.map(({ type, object }) => ({
      type,
      object:
        type === 'folder'
          ? mapFolder(object as never, this.reader.levelOf(object as never))
          : type === 'user'
            ? mapUser(object as UserDoc, this.reader.user())
            : mapCollection(object as never, this.reader.levelOf(object as never)),
    }));
  }

  @Put(':id')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Rename, edit or move an item (folderId)' })
  async update(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: UpdateItemDto) {
    const { item, folder } = await this.reader.loadItem(id, AccessLevel.WRITE);
    const target = dto.folderId ? await this.reader.loadFolder(parseObjectId(dto.folderId, 'folderId'), AccessLevel.WRITE) : undefined;
    const saved = await this.tree.updateItem(item, { name: dto.name, description: dto.description, meta: metadataParam(dto.metadata), folder: target }, { folders: [folder] });
    return mapItem(saved, this.reader.levelOf(target ?? folder));
  }

  @Delete(':id')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Delete an item and its files' })
  async delete(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const { item, folder } = await this.reader.loadItem(id, AccessLevel.WRITE);
    await this.tree.deleteItem(item, true, { folders: [folder] });
    return { message: `Deleted item ${item.name}.` };
  }

  @Put(':id/metadata')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Merge metadata (JSON body); null deletes a key unless allowNull' })
  @ApiBody({ schema: { type: 'object' } })
  async setMetadata(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() q: MetadataQuery, @Body() body: unknown) {
    const { item, folder } = await this.reader.loadItem(id, AccessLevel.WRITE);
    return mapItem(await this.tree.setMetadata('item', item, metadataBody(body), Boolean(q.allowNull)), this.reader.levelOf(folder));
  }

  @Delete(':id/metadata')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Delete metadata keys (JSON list in the body)' })
  async deleteMetadata(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Body() body: unknown) {
    const { item, folder } = await this.reader.loadItem(id, AccessLevel.WRITE);
    return mapItem(await this.tree.deleteMetadata('item', item, metadataKeys(body)), this.reader.levelOf(folder));
  }

  @Post(':id/copy')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Copy an item with its files (the bytes are shared, not duplicated)' })
  async copy(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: CopyDto) {
    const { item, folder } = await this.reader.loadItem(id, AccessLevel.READ);
    const target = dto.folderId ? await this.reader.loadFolder(parseObjectId(dto.folderId, 'folderId'), AccessLevel.WRITE) : await this.reader.loadFolder(folder._id, AccessLevel.WRITE);
    const copy = await this.tree.copyItem(item, target, { name: dto.name, description: dto.description, creator: RequestContext.user() });
    return mapItem(copy, this.reader.levelOf(target));
  }

  @Get(':id/download')
  @Access.public({ scope: TokenScope.DATA_READ, cookie: true })
  @ApiOperation({ summary: 'Download an item: its file when it has exactly one (Range works), otherwise a zip' })
  async download(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() q: ItemDownloadQuery, @Req() req: Request, @Res() res: Response) {
    const { item } = await this.reader.loadItem(id, AccessLevel.READ);
    const files = await this.files.ofItem(item._id);
    if (files.length === 1 && q.format !== 'zip') {
      await this.downloads.send(req, res, files[0], { offset: q.offset, contentDisposition: q.contentDisposition });
      return;
    }
    await this.zip.send(res, `${item.name}.zip`, [{ kind: 'item', doc: item }]);
  }
}

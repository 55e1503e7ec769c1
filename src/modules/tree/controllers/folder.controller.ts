import { Body, Controller, Delete, Get, Param, Put, Query, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Types } from 'mongoose';
import { ValidationError } from '../../../common/errors';
import { ObjectIdPipe, paging, parseObjectId } from '../../../common/params';
import { Post } from '../../../common/routes';
import { AccessLevel } from '../../access/access-level';
import { Access } from '../../auth/access.decorators';
import { TokenScope } from '../../auth/token.schema';
import { mapUser } from '../../users/user.mapper';
import type { UserDoc } from '../../users/user.schema';
import { AccessParam } from '../access-param';
import { escapeSearch } from '../search';
import { FolderDoc } from '../schemas/folder.schema';
import { TreeReader } from '../tree-reader.service';
import { AccessDto, CopyDto, CreateFolderDto, ListFoldersQuery, MetadataQuery, UpdateFolderDto } from '../tree.dto';
import { mapCollection, mapFolder } from '../tree.mapper';
import { ExistingNode, TreeService } from '../tree.service';
import { metadataBody, metadataKeys, metadataParam } from './metadata';
import { ZipService } from '../zip.service';

export const CHILD_SORTABLE = ['name', 'lowerName', 'created', 'updated', 'size', '_id'];

/** Paging of child listings; the `after` cursor walks names in their default (lowerName ascending) order only. */
export function keysetPaging(q: { after?: string; name?: string; sort?: string; sortdir?: 1 | -1 } & Parameters<typeof paging>[0]) {
  if (q.after !== undefined && ((q.sort ?? 'lowerName') !== 'lowerName' || (q.sortdir ?? 1) !== 1)) {
    throw new ValidationError('after works with the default order (sort=lowerName, sortdir=1) only.', 'after');
  }
  if (q.after !== undefined) q.after = q.after.normalize('NFC');
  if (q.name !== undefined) q.name = q.name.normalize('NFC').trim();
  return paging(q, CHILD_SORTABLE, 'lowerName');
}

@ApiTags('folder')
@Controller('folder')
export class FolderController {
  constructor(
    private readonly reader: TreeReader,
    private readonly tree: TreeService,
    private readonly accessParam: AccessParam,
    private readonly zip: ZipService,
  ) {}

  @Get()
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'List the folders of a parent (parentType + parentId), or search them by name (text)' })
  async list(@Query() q: ListFoldersQuery, @Res({ passthrough: true }) res: Response) {
    const page = keysetPaging(q);
    if (q.parentId) {
      const { docs, total } = await this.reader.listChildFolders(q.parentType, parseObjectId(q.parentId, 'parentId'), page, { name: q.name, after: q.after });
      res.setHeader('Girder-Total-Count', String(total));
      return docs.map((f) => this.map(f));
    }
    if (q.text) {
      const { folder = [] } = await this.reader.search(escapeSearch(q.text), ['folder'], page);
      return folder.map((f) => this.map(f));
    }
    throw new ValidationError('Give parentType and parentId, or text to search.', 'parentId');
  }

  @Post()
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Create a folder under a folder, collection or user' })
  async create(@Query() dto: CreateFolderDto) {
    const parent = await this.reader.loadParent(dto.parentType, parseObjectId(dto.parentId, 'parentId'), AccessLevel.WRITE);
    try {
      const folder = await this.tree.createFolder(
        parent,
        { name: dto.name, description: dto.description, public: dto.public, meta: metadataParam(dto.metadata) },
        { reuseExisting: dto.reuseExisting, creator: this.reader.user() },
      );
      return this.map(folder);
    } catch (err) {
      if (err instanceof ExistingNode) return this.map(err.node as FolderDoc);
      throw err;
    }
  }

  @Get(':id')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'Get a folder' })
  async get(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    return this.map(await this.reader.loadFolder(id, AccessLevel.READ));
  }

  @Get(':id/details')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'Numbers of child folders and items' })
  async details(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    return this.reader.details(await this.reader.loadFolder(id, AccessLevel.READ));
  }

  @Get(':id/rootpath')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'The ancestors of a folder, from its root down' })
  async rootpath(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const folder = await this.reader.loadFolder(id, AccessLevel.READ);
    return (await this.reader.rootpath(folder)).map(({ type, object }) => ({ type, object: this.mapAny(type, object) }));
  }

  @Put(':id')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Rename, edit or move a folder (parentType + parentId)' })
  async update(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: UpdateFolderDto) {
    const folder = await this.reader.loadFolder(id, AccessLevel.WRITE);
    const parent = dto.parentId ? await this.reader.loadParent(dto.parentType, parseObjectId(dto.parentId, 'parentId'), AccessLevel.WRITE) : undefined;
    const saved = await this.tree.updateFolder(folder, { name: dto.name, description: dto.description, meta: metadataParam(dto.metadata), parent });
    return this.map(saved);
  }

  @Delete(':id')
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'Delete a folder and everything in it' })
  async delete(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const folder = await this.reader.loadFolder(id, AccessLevel.ADMIN);
    await this.tree.deleteFolder(folder);
    return { message: `Deleted folder ${folder.name}.` };
  }

  @Delete(':id/contents')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Delete everything inside a folder' })
  async deleteContents(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const folder = await this.reader.loadFolder(id, AccessLevel.WRITE);
    await this.tree.deleteFolderContents(folder);
    return { message: `Deleted the contents of folder ${folder.name}.` };
  }

  @Put(':id/metadata')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Merge metadata (JSON body); null deletes a key unless allowNull' })
  @ApiBody({ schema: { type: 'object' } })
  async setMetadata(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() q: MetadataQuery, @Body() body: unknown) {
    const folder = await this.reader.loadFolder(id, AccessLevel.WRITE);
    return this.map(await this.tree.setMetadata('folder', folder, metadataBody(body), Boolean(q.allowNull)));
  }

  @Delete(':id/metadata')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Delete metadata keys (JSON list in the body)' })
  async deleteMetadata(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Body() body: unknown) {
    const folder = await this.reader.loadFolder(id, AccessLevel.WRITE);
    return this.map(await this.tree.deleteMetadata('folder', folder, metadataKeys(body)));
  }

  @Get(':id/access')
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'The access list of a folder' })
  async getAccess(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const folder = await this.reader.loadFolder(id, AccessLevel.ADMIN);
    return this.accessParam.show(folder.access);
  }

  @Put(':id/access')
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'Set the access list of a folder (recurse: also every folder below where you are admin)' })
  async setAccess(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: AccessDto) {
    const folder = await this.reader.loadFolder(id, AccessLevel.ADMIN);
    const access = await this.accessParam.parse(dto.access);
    const saved = await this.tree.setAccess('folder', folder, access, dto.public, dto.recurse ? { mayAdminister: (f) => this.reader.levelOf(f) >= AccessLevel.ADMIN } : null);
    return this.map(saved);
  }

  @Post(':id/copy')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Copy a folder and everything in it (files share their bytes)' })
  async copy(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: CopyDto) {
    const folder = await this.reader.loadFolder(id, AccessLevel.READ);
    const parent = dto.parentId
      ? await this.reader.loadParent(dto.parentType, parseObjectId(dto.parentId, 'parentId'), AccessLevel.WRITE)
      : await this.reader.loadParent(folder.parentCollection, folder.parentId, AccessLevel.WRITE);
    const isPublic = dto.public === undefined || dto.public === 'original' ? 'original' : ['true', 'True', '1'].includes(dto.public);
    const copy = await this.tree.copyFolder(folder, parent, { name: dto.name, description: dto.description, public: isPublic, creator: this.reader.user() });
    return this.map(copy);
  }

  @Get(':id/download')
  @Access.public({ scope: TokenScope.DATA_READ, cookie: true })
  @ApiOperation({ summary: 'Download a folder as a zip (streamed)' })
  async download(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Res() res: Response) {
    const folder = await this.reader.loadFolder(id, AccessLevel.READ);
    await this.zip.send(res, `${folder.name}.zip`, [{ kind: 'folder', doc: folder }]);
  }

  private map(folder: FolderDoc) {
    return mapFolder(folder, this.reader.levelOf(folder));
  }

  private mapAny(type: string, object: unknown) {
    if (type === 'folder') return this.map(object as FolderDoc);
    if (type === 'user') return mapUser(object as UserDoc, this.reader.user());
    return mapCollection(object as never, this.reader.levelOf(object as never));
  }
}

import { Body, Controller, Delete, Get, Param, Put, Query, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Types } from 'mongoose';
import { AccessDeniedError, AuthenticationError, ValidationError } from '../../../common/errors';
import { ObjectIdPipe, paging } from '../../../common/params';
import { Post } from '../../../common/routes';
import { AccessLevel } from '../../access/access-level';
import { Access } from '../../auth/access.decorators';
import { TokenScope } from '../../auth/token.schema';
import { SettingsService } from '../../settings/settings.service';
import { AccessParam } from '../access-param';
import { TreeSetting } from '../tree-settings';
import { TreeReader } from '../tree-reader.service';
import { AccessDto, CollectionDto, ListCollectionsQuery, MetadataQuery } from '../tree.dto';
import { mapCollection } from '../tree.mapper';
import { TreeService } from '../tree.service';
import { metadataBody, metadataKeys } from './metadata';

const SORTABLE = ['name', 'lowerName', 'created', 'updated', 'size', '_id'];

@ApiTags('collection')
@Controller('collection')
export class CollectionController {
  constructor(
    private readonly reader: TreeReader,
    private readonly tree: TreeService,
    private readonly accessParam: AccessParam,
    private readonly settings: SettingsService,
  ) {}

  @Get()
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'List or search the collections you can read' })
  async list(@Query() q: ListCollectionsQuery, @Res({ passthrough: true }) res: Response) {
    const { docs, total } = await this.reader.listCollections(q.text, paging(q, SORTABLE, 'lowerName'));
    res.setHeader('Girder-Total-Count', String(total));
    return docs.map((c) => mapCollection(c, this.reader.levelOf(c)));
  }

  @Post()
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Create a collection (admins, or everyone when core.user_collections is on)' })
  async create(@Query() dto: CollectionDto) {
    const user = this.reader.user();
    if (!user) throw new AuthenticationError();
    if (!user.admin && !(await this.settings.get<boolean>(TreeSetting.USER_COLLECTIONS))) {
      throw new AccessDeniedError('Only administrators may create collections on this server.');
    }
    if (dto.name === undefined) throw new ValidationError('Parameter name is required.', 'name');
    const c = await this.tree.createCollection({ name: dto.name, description: dto.description, public: dto.public }, user);
    return mapCollection(c, AccessLevel.ADMIN);
  }

  @Get(':id')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'Get a collection' })
  async get(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const c = await this.reader.loadCollection(id, AccessLevel.READ);
    return mapCollection(c, this.reader.levelOf(c));
  }

  @Get(':id/details')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'Number of top-level folders' })
  async details(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const c = await this.reader.loadCollection(id, AccessLevel.READ);
    const { total } = await this.reader.listFolders({ type: 'collection', doc: c }, { limit: 1, offset: 0, sort: { _id: 1 } });
    return { nFolders: total };
  }

  @Put(':id')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Rename or edit a collection' })
  async update(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: CollectionDto) {
    // making a collection public or private is an access change: ADMIN, as for its access list
    const c = await this.reader.loadCollection(id, dto.public === undefined ? AccessLevel.WRITE : AccessLevel.ADMIN);
    const saved = await this.tree.updateCollection(c, dto);
    return mapCollection(saved, this.reader.levelOf(saved));
  }

  @Delete(':id')
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'Delete a collection and everything in it' })
  async delete(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const c = await this.reader.loadCollection(id, AccessLevel.ADMIN);
    await this.tree.deleteCollection(c);
    return { message: `Deleted collection ${c.name}.` };
  }

  @Get(':id/access')
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'The access list of a collection' })
  async getAccess(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const c = await this.reader.loadCollection(id, AccessLevel.ADMIN);
    return this.accessParam.show(c.access);
  }

  @Put(':id/access')
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'Set the access list of a collection (recurse: also its folders)' })
  async setAccess(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: AccessDto) {
    const c = await this.reader.loadCollection(id, AccessLevel.ADMIN);
    const access = await this.accessParam.parse(dto.access);
    const saved = await this.tree.setAccess('collection', c, access, dto.public, dto.recurse ? { mayAdminister: (f) => this.reader.levelOf(f) >= AccessLevel.ADMIN } : null);
    return mapCollection(saved, this.reader.levelOf(saved));
  }

  @Put(':id/metadata')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Merge metadata (JSON body); null deletes a key unless allowNull' })
  @ApiBody({ schema: { type: 'object' } })
  async setMetadata(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() q: MetadataQuery, @Body() body: unknown) {
    const c = await this.reader.loadCollection(id, AccessLevel.WRITE);
    return mapCollection(await this.tree.setMetadata('collection', c, metadataBody(body), Boolean(q.allowNull)), this.reader.levelOf(c));
  }

  @Delete(':id/metadata')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Delete metadata keys (JSON list in the body)' })
  async deleteMetadata(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Body() body: unknown) {
    const c = await this.reader.loadCollection(id, AccessLevel.WRITE);
    return mapCollection(await this.tree.deleteMetadata('collection', c, metadataKeys(body)), this.reader.levelOf(c));
  }
}

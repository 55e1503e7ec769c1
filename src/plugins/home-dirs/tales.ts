import { Body, Controller, Delete, Get, Injectable, Param, Put, Query, Res } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';
import type { Response } from 'express';
import { Model, Schema, Types } from 'mongoose';
import { promises as fs } from 'node:fs';
import { AuthenticationError, NotFoundError, ValidationError } from '../../common/errors';
import { ObjectIdPipe, paging, PagingQuery, toBoolean } from '../../common/params';
import { RequestContext } from '../../common/request-context';
import { Post } from '../../common/routes';
import { idString, isoDate } from '../../common/serialize';
import { AccessLevel } from '../../modules/access/access-level';
import { AccessService } from '../../modules/access/access.service';
import { Access } from '../../modules/auth/access.decorators';
import { TokenScope } from '../../modules/auth/token.schema';
import { AccessParam } from '../../modules/tree/access-param';
import { CollectionsRepository } from '../../modules/tree/repositories/collections.repository';
import { FoldersRepository } from '../../modules/tree/repositories/folders.repository';
import { FolderDoc } from '../../modules/tree/schemas/folder.schema';
import { AccessDto } from '../../modules/tree/tree.dto';
import { TreeService } from '../../modules/tree/tree.service';
import type { UserDoc } from '../../modules/users/user.schema';
import { Realms } from './realms';

/** A tale (collection `tale`): a title and a workspace folder mirrored at `/tales/<id>`. Its access is the workspace's. */
export interface TaleDoc {
  _id: Types.ObjectId;
  title: string;
  description: string;
  creatorId: Types.ObjectId | null;
  workspaceId: Types.ObjectId;
  created: Date;
  updated: Date;
}

export const TALE_MODEL = 'tale';
export const TaleSchema = new Schema<TaleDoc>(
  {
    title: { type: String, required: true },
    description: { type: String, default: '' },
    creatorId: { type: Schema.Types.ObjectId, default: null },
    workspaceId: { type: Schema.Types.ObjectId, required: true },
    created: { type: Date, required: true },
    updated: { type: Date, required: true },
  },
  { collection: 'tale', versionKey: false },
);
TaleSchema.index({ workspaceId: 1 }, { unique: true });

/** The collection holding every workspace folder (private; each workspace carries its tale's ACL). */
export const WORKSPACES_COLLECTION = 'Tale Workspaces';

@Injectable()
export class TalesService {
  constructor(
    @InjectModel(TALE_MODEL) private readonly model: Model<TaleDoc>,
    private readonly tree: TreeService,
    private readonly collections: CollectionsRepository,
    private readonly folders: FoldersRepository,
    private readonly realms: Realms,
    private readonly access: AccessService,
  ) {}

  async create(input: { title: string; description?: string; public?: boolean }): Promise<{ tale: TaleDoc; workspace: FolderDoc }> {
    const user = requireUser();
    const title = cleanTitle(input.title);
    const _id = new Types.ObjectId();
    const collection = await this.workspacesCollection();
    await fs.mkdir(this.realms.directory('tales', String(_id)), { recursive: true });
    const workspace = await this.tree.createFolder(
      { type: 'collection', doc: collection },
      { name: String(_id), public: input.public ?? false, mapping: { realm: 'tales', key: String(_id) } },
      { creator: user },
    );
    const now = new Date();
    const tale = (await this.model.create({ _id, title, description: (input.description ?? '').trim(), creatorId: user._id, workspaceId: workspace._id, created: now, updated: now })).toObject() as TaleDoc;
    return { tale, workspace };
  }

  async load(id: Types.ObjectId, level: AccessLevel): Promise<{ tale: TaleDoc; workspace: FolderDoc }> {
    const tale = await this.model.findById(id).lean<TaleDoc>().exec();
    const workspace = tale ? await this.folders.findById(tale.workspaceId) : null;
    const user = RequestContext.user();
    // a tale the caller cannot read does not exist for them
    if (!tale || !workspace || !this.access.has(workspace, user, AccessLevel.READ)) throw new NotFoundError(`Tale not found: ${id}`);
    this.access.require(workspace, user, level, 'tale');
    return { tale, workspace };
  }

  async list(page: ReturnType<typeof paging>): Promise<{ tales: { tale: TaleDoc; workspace: FolderDoc }[]; total: number }> {
    const visible = await this.folders.mappedIn('tales', this.access.filterFor(RequestContext.user(), AccessLevel.READ));
    const byWorkspace = new Map(visible.map((f) => [String(f._id), f]));
    const filter = { workspaceId: { $in: visible.map((f) => f._id) } };
    const query = this.model.find(filter).sort(page.sort).skip(page.offset);
    if (page.limit) query.limit(page.limit);
    const [tales, total] = await Promise.all([query.lean<TaleDoc[]>().exec(), this.model.countDocuments(filter).exec()]);
    return { tales: tales.map((tale) => ({ tale, workspace: byWorkspace.get(String(tale.workspaceId))! })), total };
  }

  async update(id: Types.ObjectId, changes: { title?: string; description?: string; public?: boolean }) {
    const { tale, workspace } = await this.load(id, changes.public === undefined ? AccessLevel.WRITE : AccessLevel.ADMIN);
    const set: Partial<TaleDoc> = { updated: new Date() };
    if (changes.title !== undefined) set.title = cleanTitle(changes.title);
    if (changes.description !== undefined) set.description = changes.description.trim();
    const saved = (await this.model.findByIdAndUpdate(id, { $set: set }, { new: true }).lean<TaleDoc>().exec())!;
    const ws = changes.public === undefined ? workspace : await this.tree.setAccess('folder', workspace, workspace.access, changes.public, null);
    return { tale: saved, workspace: ws };
  }

  /** Deleting a tale removes its workspace folder and directory. */
  async delete(id: Types.ObjectId): Promise<void> {
    const { tale, workspace } = await this.load(id, AccessLevel.ADMIN);
    await this.tree.deleteFolder(workspace);
    await this.model.deleteOne({ _id: tale._id }).exec();
  }

  async setAccess(id: Types.ObjectId, access: FolderDoc['access'], isPublic: boolean | undefined) {
    const { tale, workspace } = await this.load(id, AccessLevel.ADMIN);
    return { tale, workspace: await this.tree.setAccess('folder', workspace, access, isPublic, { mayAdminister: () => true }) };
  }

  private async workspacesCollection() {
    const existing = await this.collections.findByName(WORKSPACES_COLLECTION);
    if (existing) return existing;
    try {
      return await this.tree.createCollection({ name: WORKSPACES_COLLECTION, description: 'Workspaces of tales, one folder each (home-dirs plugin).', public: false }, null);
    } catch {
      return (await this.collections.findByName(WORKSPACES_COLLECTION))!; // made by a concurrent request
    }
  }
}

class TaleDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(500) title?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() description?: string;
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() public?: boolean;
}

class CreateTaleDto extends TaleDto {
  @ApiProperty() @IsString() @MaxLength(500) declare title: string;
}

@ApiTags('tale')
@Controller('tale')
export class TaleController {
  constructor(
    private readonly tales: TalesService,
    private readonly access: AccessService,
    private readonly accessParam: AccessParam,
  ) {}

  @Post()
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Create a tale with its workspace (/tales/<id> over WebDAV)' })
  async create(@Query() dto: CreateTaleDto, @Body() body: unknown) {
    return this.map(await this.tales.create({ ...bodyFields(body), ...dto }));
  }

  @Get()
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'List the tales you can read' })
  async list(@Query() q: PagingQuery, @Res({ passthrough: true }) res: Response) {
    const { tales, total } = await this.tales.list(paging(q, ['title', 'created', 'updated', '_id'], 'title'));
    res.setHeader('Girder-Total-Count', String(total));
    return tales.map((t) => this.map(t));
  }

  @Get(':id')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'Get a tale' })
  async get(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    return this.map(await this.tales.load(id, AccessLevel.READ));
  }

  @Put(':id')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Edit a tale (public needs ADMIN)' })
  async update(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: TaleDto, @Body() body: unknown) {
    return this.map(await this.tales.update(id, { ...bodyFields(body), ...dto }));
  }

  @Delete(':id')
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'Delete a tale with its workspace folder and directory' })
  async delete(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    await this.tales.delete(id);
    return { message: 'Deleted tale.' };
  }

  @Get(':id/access')
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'The access list of a tale (its workspace)' })
  async getAccess(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    return this.accessParam.show((await this.tales.load(id, AccessLevel.ADMIN)).workspace.access);
  }

  @Put(':id/access')
  @Access.user({ scope: TokenScope.DATA_OWN })
  @ApiOperation({ summary: 'Set the access list of a tale (users and groups, as for folders)' })
  async setAccess(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: AccessDto) {
    return this.map(await this.tales.setAccess(id, await this.accessParam.parse(dto.access), dto.public));
  }

  private map({ tale, workspace }: { tale: TaleDoc; workspace: FolderDoc }) {
    return {
      _id: idString(tale._id),
      _modelType: 'tale',
      _accessLevel: this.access.levelOf(workspace, RequestContext.user()),
      title: tale.title,
      description: tale.description,
      public: workspace.public,
      creatorId: idString(tale.creatorId),
      workspaceId: idString(tale.workspaceId),
      davPath: `/tales/${idString(tale._id)}/`,
      created: isoDate(tale.created),
      updated: isoDate(tale.updated),
    };
  }
}

function requireUser(): UserDoc {
  const user = RequestContext.user();
  if (!user) throw new AuthenticationError();
  return user;
}

function cleanTitle(title: unknown): string {
  if (typeof title !== 'string' || !title.trim()) throw new ValidationError('A tale needs a title.', 'title');
  return title.trim();
}

/** Fields of a JSON body, for clients that send JSON instead of parameters. */
function bodyFields(body: unknown): Record<string, never> {
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, never>) : {};
}

import { Controller, Delete, Get, Param, Put, Query, Res } from '@nestjs/common';
import { Post } from '../../common/routes';
import { ApiOperation, ApiPropertyOptional, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString } from 'class-validator';
import type { Response } from 'express';
import { Types } from 'mongoose';
import { ObjectIdPipe, paging, PagingQuery, parseObjectId, toBoolean } from '../../common/params';
import { idString, isoDate } from '../../common/serialize';
import { RequestContext } from '../../common/request-context';
import { Access } from '../auth/access.decorators';
import { AccessLevel } from '../access/access-level';
import { GroupDoc } from './group.schema';
import { GroupsService } from './groups.service';
import { mapUser } from './user.mapper';

class CreateGroupDto {
  @ApiProperty() @IsString() name!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() description?: string;
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() public?: boolean;
}

class UpdateGroupDto {
  @ApiPropertyOptional() @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() description?: string;
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() public?: boolean;
}

class ListGroupsQuery extends PagingQuery {
  @ApiPropertyOptional({ description: 'Search in group names' }) @IsOptional() @IsString() text?: string;
}

class MemberDto {
  @ApiProperty({ description: 'The user to add or remove' }) @IsString() userId!: string;
  @ApiPropertyOptional({ enum: [0, 1, 2], description: '0 member, 1 moderator, 2 group admin' })
  @IsOptional()
  @Type(() => Number)
  @IsIn([0, 1, 2])
  level?: AccessLevel;
}

@ApiTags('group')
@Controller('group')
export class GroupsController {
  constructor(private readonly groups: GroupsService) {}

  @Post()
  @Access.user()
  @ApiOperation({ summary: 'Create a group; you become its admin and a member' })
  async create(@Query() dto: CreateGroupDto) {
    return this.map(await this.groups.create(dto.name, dto.description, dto.public));
  }

  @Get()
  @Access.user()
  @ApiOperation({ summary: 'List groups you can see (public ones and your own)' })
  async list(@Query() q: ListGroupsQuery, @Res({ passthrough: true }) res: Response) {
    const { groups, total } = await this.groups.search(q.text, paging(q, ['lowerName', 'name', 'created', '_id'], 'lowerName'));
    res.setHeader('Girder-Total-Count', String(total));
    return groups.map((g) => this.map(g));
  }

  @Get(':id')
  @Access.user()
  @ApiOperation({ summary: 'Get a group' })
  async get(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    return this.map(await this.groups.load(id, AccessLevel.READ));
  }

  @Put(':id')
  @Access.user()
  @ApiOperation({ summary: 'Edit a group (moderators and admins)' })
  async update(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: UpdateGroupDto) {
    return this.map(await this.groups.update(id, dto));
  }

  @Delete(':id')
  @Access.user()
  @ApiOperation({ summary: 'Delete a group (group admins)' })
  async delete(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    await this.groups.delete(id);
    return { message: 'Deleted the group.' };
  }

  @Get(':id/member')
  @Access.user()
  @ApiOperation({ summary: 'List the members of a group' })
  async members(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() q: PagingQuery, @Res({ passthrough: true }) res: Response) {
    const { users, total } = await this.groups.members(id, paging(q, ['lastName', 'firstName', 'login', '_id'], 'lastName'));
    res.setHeader('Girder-Total-Count', String(total));
    const viewer = RequestContext.user();
    return users.map((u) => mapUser(u, viewer));
  }

  @Post(':id/member')
  @Access.user()
  @ApiOperation({ summary: 'Add a member (moderators and admins); level 1 or 2 grants a role (admins)' })
  async addMember(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: MemberDto) {
    return this.map(await this.groups.addMember(id, parseObjectId(dto.userId, 'userId'), dto.level));
  }

  @Delete(':id/member')
  @Access.user()
  @ApiOperation({ summary: 'Remove a member (moderators and admins), or leave the group yourself' })
  async removeMember(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: MemberDto) {
    return this.map(await this.groups.removeMember(id, parseObjectId(dto.userId, 'userId')));
  }

  private map(group: GroupDoc) {
    return {
      _id: idString(group._id),
      _modelType: 'group',
      _accessLevel: this.groups.levelOf(group, RequestContext.user()),
      name: group.name,
      description: group.description,
      public: group.public,
      created: isoDate(group.created),
      updated: isoDate(group.updated),
      creatorId: idString(group.creatorId),
      access: { users: group.access.users.map((e) => ({ id: idString(e.id), level: e.level })), groups: [] },
    };
  }
}

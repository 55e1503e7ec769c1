import { Controller, Delete, Get, Param, Put, Query } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString } from 'class-validator';
import { Types } from 'mongoose';
import { ObjectIdPipe } from '../../../common/params';
import { Post } from '../../../common/routes';
import { idString, isoDate } from '../../../common/serialize';
import { toBoolean } from '../../../common/params';
import { AssetstoresService } from '../../../assetstores/assetstores.service';
import type { AssetstoreDoc } from '../../../assetstores/assetstore';
import { Access } from '../../auth/access.decorators';
import { TreeCheckService } from '../tree-check.service';

class CreateAssetstoreDto {
  @ApiProperty() @IsString() name!: string;
  @ApiProperty({ description: 'filesystem, or a type a plugin adds' }) @IsString() type!: string;
  @ApiPropertyOptional({ description: 'Absolute directory (filesystem)' }) @IsOptional() @IsString() root?: string;
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() current?: boolean;
}

class UpdateAssetstoreDto {
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() current?: boolean;
}

@ApiTags('assetstore')
@Controller('assetstore')
export class AssetstoreController {
  constructor(private readonly assetstores: AssetstoresService) {}

  @Get()
  @Access.admin()
  @ApiOperation({ summary: 'List assetstores with their capacity' })
  async list() {
    return Promise.all((await this.assetstores.list()).map((a) => this.map(a)));
  }

  @Post()
  @Access.admin()
  @ApiOperation({ summary: 'Create an assetstore' })
  async create(@Query() dto: CreateAssetstoreDto) {
    return this.map(await this.assetstores.create({ name: dto.name, type: dto.type, root: dto.root, current: dto.current }));
  }

  @Put(':id')
  @Access.admin()
  @ApiOperation({ summary: 'Make an assetstore current (new uploads go there)' })
  async update(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: UpdateAssetstoreDto) {
    const doc = dto.current ? await this.assetstores.makeCurrent(id) : await this.assetstores.get(id);
    return this.map(doc);
  }

  @Delete(':id')
  @Access.admin()
  @ApiOperation({ summary: 'Delete an empty assetstore that is not current' })
  async delete(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    await this.assetstores.delete(id);
    return { message: 'Deleted assetstore.' };
  }

  private async map(doc: AssetstoreDoc) {
    const capacity = await (await this.assetstores.adapter(doc)).capacity().catch(() => null);
    return { _id: idString(doc._id), _modelType: 'assetstore', name: doc.name, type: doc.type, root: doc.root ?? null, current: doc.current, created: isoDate(doc.created), capacity };
  }
}

@ApiTags('system')
@Controller('system')
export class SystemCheckController {
  constructor(private readonly check: TreeCheckService) {}

  @Put('check')
  @Access.admin()
  @ApiOperation({ summary: 'Recompute every size and repair name reservations' })
  run() {
    return this.check.run();
  }
}

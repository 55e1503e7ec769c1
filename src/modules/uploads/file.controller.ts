import { Controller, Delete, Get, Param, Put, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Min } from 'class-validator';
import type { Request, Response } from 'express';
import { Types } from 'mongoose';
import { AccessDeniedError, ValidationError } from '../../common/errors';
import { ObjectIdPipe, parseObjectId } from '../../common/params';
import { Post } from '../../common/routes';
import { AccessLevel } from '../access/access-level';
import { Access } from '../auth/access.decorators';
import { TokenScope } from '../auth/token.schema';
import { DownloadService } from '../tree/download.service';
import { FileDoc } from '../tree/schemas/file.schema';
import { TreeReader } from '../tree/tree-reader.service';
import { mapFile } from '../tree/tree.mapper';
import { TreeService } from '../tree/tree.service';
import { UploadDoc } from './upload.schema';
import { UploadParent, UploadsService } from './uploads.service';

class StartUploadDto {
  @ApiProperty({ enum: ['folder', 'item'] }) @IsIn(['folder', 'item']) parentType!: 'folder' | 'item';
  @ApiProperty() @IsString() parentId!: string;
  @ApiProperty() @IsString() name!: string;
  @ApiProperty({ description: 'Bytes in the whole file' }) @Type(() => Number) @IsInt() @Min(0) size!: number;
  @ApiPropertyOptional() @IsOptional() @IsString() mimeType?: string;
  @ApiPropertyOptional({ description: 'Site admins only' }) @IsOptional() @IsString() assetstoreId?: string;
}

class ChunkDto {
  @ApiProperty() @IsString() uploadId!: string;
  @ApiProperty({ description: 'Bytes the server has received so far' }) @Type(() => Number) @IsInt() @Min(0) offset!: number;
}

class UploadIdDto {
  @ApiProperty() @IsString() uploadId!: string;
}

class ReplaceDto {
  @ApiProperty() @Type(() => Number) @IsInt() @Min(0) size!: number;
}

class UpdateFileDto {
  @ApiPropertyOptional() @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() mimeType?: string;
}

class CopyFileDto {
  @ApiProperty({ description: 'The item to copy the file into' }) @IsString() itemId!: string;
}

class DownloadQuery {
  @ApiPropertyOptional({ description: 'First byte (Girder); a Range header wins' }) @IsOptional() @Type(() => Number) @IsInt() @Min(0) offset?: number;
  @ApiPropertyOptional({ description: 'Byte to stop before (Girder)' }) @IsOptional() @Type(() => Number) @IsInt() @Min(0) endByte?: number;
  @ApiPropertyOptional({ enum: ['inline', 'attachment'] }) @IsOptional() @IsIn(['inline', 'attachment']) contentDisposition?: 'inline' | 'attachment';
}

/** Files: Girder's upload protocol, downloads, rename, copy, delete. Literal routes come before `:id`. */
@ApiTags('file')
@Controller('file')
export class FileController {
  constructor(
    private readonly uploads: UploadsService,
    private readonly reader: TreeReader,
    private readonly tree: TreeService,
    private readonly downloads: DownloadService,
  ) {}

  @Post()
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Start an upload into a folder or item; a request body is taken as the first chunk; size 0 finishes at once' })
  async start(@Query() dto: StartUploadDto, @Req() req: Request) {
    const id = parseObjectId(dto.parentId, 'parentId');
    const parent: UploadParent =
      dto.parentType === 'folder'
        ? { type: 'folder', doc: await this.reader.loadFolder(id, AccessLevel.WRITE) }
        : { type: 'item', doc: (await this.reader.loadItem(id, AccessLevel.WRITE)).item };
    const assetstoreId = dto.assetstoreId ? this.adminAssetstore(dto.assetstoreId) : undefined;
    return this.mapResult(await this.uploads.start({ parent, name: dto.name, size: dto.size, mimeType: dto.mimeType, assetstoreId }, firstChunk(req)));
  }

  @Post('chunk')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Send the bytes at `offset` (raw body); the last chunk answers the finished file' })
  async chunk(@Query() dto: ChunkDto, @Req() req: Request) {
    if (req.is('multipart/form-data')) throw new ValidationError('Send chunks as a raw body, not multipart.');
    return this.mapResult(await this.uploads.chunk(parseObjectId(dto.uploadId, 'uploadId'), dto.offset, req));
  }

  @Post('completion')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Finish an upload whose bytes have all arrived (normally automatic)' })
  async completion(@Query() dto: UploadIdDto) {
    return this.mapResult(await this.uploads.complete(parseObjectId(dto.uploadId, 'uploadId')));
  }

  @Get('offset')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Where to resume an upload' })
  offset(@Query() dto: UploadIdDto) {
    return this.uploads.offset(parseObjectId(dto.uploadId, 'uploadId'));
  }

  @Delete('upload/:id')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Cancel an upload' })
  async cancel(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    await this.uploads.cancel(id);
    return { message: 'Upload cancelled.' };
  }

  @Get(':id')
  @Access.public({ scope: TokenScope.DATA_READ })
  @ApiOperation({ summary: 'Get a file' })
  async get(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    return mapFile((await this.reader.loadFile(id, AccessLevel.READ)).file, this.reader.user());
  }

  @Get(':id/download')
  @Access.public({ scope: TokenScope.DATA_READ, cookie: true })
  @ApiOperation({ summary: 'Download a file (Range: a single byte range answers 206)' })
  async download(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() q: DownloadQuery, @Req() req: Request, @Res() res: Response) {
    const { file } = await this.reader.loadFile(id, AccessLevel.READ);
    await this.downloads.send(req, res, file, q);
  }

  @Get(':id/download/:name')
  @Access.public({ scope: TokenScope.DATA_READ, cookie: true })
  @ApiOperation({ summary: 'Download a file, with a file name at the end of the URL' })
  async downloadNamed(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() q: DownloadQuery, @Req() req: Request, @Res() res: Response) {
    return this.download(id, q, req, res);
  }

  @Put(':id')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Rename a file or change its MIME type' })
  async update(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: UpdateFileDto) {
    const { file } = await this.reader.loadFile(id, AccessLevel.WRITE);
    return mapFile(await this.tree.updateFile(file, dto), this.reader.user());
  }

  @Put(':id/contents')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Start an upload that replaces the bytes of a file (then send chunks)' })
  async replace(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: ReplaceDto, @Req() req: Request) {
    const { file } = await this.reader.loadFile(id, AccessLevel.WRITE);
    return this.mapResult(await this.uploads.start({ parent: null, replace: file, name: file.name, size: dto.size, mimeType: file.mimeType }, firstChunk(req)));
  }

  @Post(':id/copy')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Copy a file into an item (the bytes are shared)' })
  async copy(@Param('id', ObjectIdPipe) id: Types.ObjectId, @Query() dto: CopyFileDto) {
    const { file } = await this.reader.loadFile(id, AccessLevel.READ);
    const { item } = await this.reader.loadItem(parseObjectId(dto.itemId, 'itemId'), AccessLevel.WRITE);
    return mapFile(await this.tree.copyFile(file, item, this.reader.user()), this.reader.user());
  }

  @Delete(':id')
  @Access.user({ scope: TokenScope.DATA_WRITE })
  @ApiOperation({ summary: 'Delete a file' })
  async delete(@Param('id', ObjectIdPipe) id: Types.ObjectId) {
    const { file } = await this.reader.loadFile(id, AccessLevel.WRITE);
    await this.tree.deleteFile(file);
    return { message: `Deleted file ${file.name}.` };
  }

  private mapResult(result: UploadDoc | FileDoc) {
    if ('received' in result) {
      return {
        _id: String(result._id),
        _modelType: 'upload',
        name: result.name,
        size: result.size,
        received: result.received,
        mimeType: result.mimeType,
        parentType: result.parentType,
        parentId: result.parentId ? String(result.parentId) : null,
        created: result.created.toISOString(),
      };
    }
    return mapFile(result, this.reader.user());
  }

  private adminAssetstore(id: string): Types.ObjectId {
    if (!this.reader.user()?.admin) throw new AccessDeniedError('Only site administrators may choose the assetstore.');
    return parseObjectId(id, 'assetstoreId');
  }
}

/** A body sent with the start of an upload is its first chunk (a small file in one request). */
function firstChunk(req: Request): Request | undefined {
  const declared = Number(req.headers['content-length'] ?? 0);
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if ((declared > 0 || chunked) && !req.is('application/x-www-form-urlencoded') && !req.is('application/json')) return req;
  return undefined;
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString } from 'class-validator';
import { PagingQuery, toBoolean } from '../../common/params';

export class ListFoldersQuery extends PagingQuery {
  @ApiPropertyOptional({ enum: ['folder', 'user', 'collection'], default: 'folder' }) @IsOptional() @IsIn(['folder', 'user', 'collection']) parentType?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() parentId?: string;
  @ApiPropertyOptional({ description: 'Exact name (case-insensitive)' }) @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional({ description: 'Search by name (needs no parent)' }) @IsOptional() @IsString() text?: string;
  @ApiPropertyOptional({ description: 'Keyset paging: names after this one (beyond Girder)' }) @IsOptional() @IsString() after?: string;
}

export class CreateFolderDto {
  @ApiPropertyOptional({ enum: ['folder', 'user', 'collection'], default: 'folder' }) @IsOptional() @IsIn(['folder', 'user', 'collection']) parentType?: string;
  @ApiProperty() @IsString() parentId!: string;
  @ApiProperty() @IsString() name!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() description?: string;
  @ApiPropertyOptional({ description: 'Return the existing folder of that name' }) @IsOptional() @Transform(toBoolean) @IsBoolean() reuseExisting?: boolean;
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() public?: boolean;
  @ApiPropertyOptional({ description: 'JSON object of metadata' }) @IsOptional() @IsString() metadata?: string;
}

export class UpdateFolderDto {
  @ApiPropertyOptional() @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() description?: string;
  @ApiPropertyOptional({ enum: ['folder', 'user', 'collection'] }) @IsOptional() @IsIn(['folder', 'user', 'collection']) parentType?: string;
  @ApiPropertyOptional({ description: 'Move into this parent' }) @IsOptional() @IsString() parentId?: string;
  @ApiPropertyOptional({ description: 'JSON object of metadata to merge' }) @IsOptional() @IsString() metadata?: string;
}

export class ListItemsQuery extends PagingQuery {
  @ApiPropertyOptional() @IsOptional() @IsString() folderId?: string;
  @ApiPropertyOptional({ description: 'Exact name (case-insensitive)' }) @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional({ description: 'Search by name' }) @IsOptional() @IsString() text?: string;
  @ApiPropertyOptional({ description: 'Keyset paging: names after this one (beyond Girder)' }) @IsOptional() @IsString() after?: string;
}

export class CreateItemDto {
  @ApiProperty() @IsString() folderId!: string;
  @ApiProperty() @IsString() name!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() description?: string;
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() reuseExisting?: boolean;
  @ApiPropertyOptional({ description: 'JSON object of metadata' }) @IsOptional() @IsString() metadata?: string;
}

export class UpdateItemDto {
  @ApiPropertyOptional() @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() description?: string;
  @ApiPropertyOptional({ description: 'Move into this folder' }) @IsOptional() @IsString() folderId?: string;
  @ApiPropertyOptional({ description: 'JSON object of metadata to merge' }) @IsOptional() @IsString() metadata?: string;
}

export class CopyDto {
  @ApiPropertyOptional({ enum: ['folder', 'user', 'collection'] }) @IsOptional() @IsIn(['folder', 'user', 'collection']) parentType?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() parentId?: string;
  @ApiPropertyOptional({ description: 'Target folder (items)' }) @IsOptional() @IsString() folderId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() description?: string;
  @ApiPropertyOptional({ description: 'true, false or original (folders)' }) @IsOptional() @IsString() public?: string;
}

export class AccessDto {
  @ApiProperty({ description: 'JSON: {"users": [{"id", "level"}], "groups": [{"id", "level"}]}' }) @IsString() access!: string;
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() public?: boolean;
  @ApiPropertyOptional({ description: 'Also set it on every folder below where you are admin' }) @IsOptional() @Transform(toBoolean) @IsBoolean() recurse?: boolean;
}

export class MetadataQuery {
  @ApiPropertyOptional({ description: 'Store null values instead of deleting those keys' }) @IsOptional() @Transform(toBoolean) @IsBoolean() allowNull?: boolean;
}

export class CollectionDto {
  @ApiPropertyOptional() @IsOptional() @IsString() name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() description?: string;
  @ApiPropertyOptional() @IsOptional() @Transform(toBoolean) @IsBoolean() public?: boolean;
}

export class ListCollectionsQuery extends PagingQuery {
  @ApiPropertyOptional({ description: 'Search in names' }) @IsOptional() @IsString() text?: string;
}

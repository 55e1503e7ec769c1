import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { Types } from 'mongoose';
import { ValidationError } from './errors';

/** Girder's clients send booleans as `True`/`False`, browsers as `true`/`false`. */
export function toBoolean({ value }: { value: unknown }): unknown {
  if (typeof value === 'boolean' || value === undefined || value === null) return value;
  const s = String(value).trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off', ''].includes(s)) return false;
  return value; // left as is so the validator reports it
}

/** Parses a JSON-valued parameter (Girder passes lists and objects as JSON strings). */
export function parseJsonParam<T = unknown>(value: unknown, field: string): T {
  if (typeof value !== 'string') return value as T;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new ValidationError(`Parameter ${field} must be valid JSON.`, field);
  }
}

export function parseObjectId(value: unknown, field = 'id'): Types.ObjectId {
  if (value instanceof Types.ObjectId) return value;
  if (typeof value === 'string' && /^[0-9a-fA-F]{24}$/.test(value)) return new Types.ObjectId(value);
  throw new ValidationError(`Invalid ObjectId: ${String(value).slice(0, 64)}`, field);
}

/** Route parameter `:id` as an ObjectId; a malformed id is a 400. */
@Injectable()
export class ObjectIdPipe implements PipeTransform<string, Types.ObjectId> {
  transform(value: string, metadata: ArgumentMetadata): Types.ObjectId {
    return parseObjectId(value, metadata.data ?? 'id');
  }
}

/** Girder's paging parameters: `limit` (default 50), `offset`, `sort`, `sortdir`. */
export class PagingQuery {
  @ApiPropertyOptional({ default: 50, description: 'Result set size limit (0 for no limit, at most 10000)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(10000)
  limit?: number;

  @ApiPropertyOptional({ default: 0, description: 'Offset into the result set' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;

  @ApiPropertyOptional({ description: 'Field to sort the result set by' })
  @IsOptional()
  @IsString()
  sort?: string;

  @ApiPropertyOptional({ enum: [1, -1], description: 'Sort order: 1 for ascending, -1 for descending' })
  @IsOptional()
  @Type(() => Number)
  @IsIn([1, -1])
  sortdir?: 1 | -1;
}

export interface Paging {
  limit: number;
  offset: number;
  sort: Record<string, 1 | -1>;
}

/** Resolves paging parameters against the fields a listing may be sorted by. */
export function paging(q: PagingQuery, sortable: readonly string[], defaultSort: string): Paging {
  const field = q.sort ?? defaultSort;
  if (!sortable.includes(field)) throw new ValidationError(`Cannot sort by ${field}; use one of ${sortable.join(', ')}.`, 'sort');
  const dir = q.sortdir ?? 1;
  const sort: Record<string, 1 | -1> = { [field]: dir };
  if (field !== '_id') sort._id = dir; // a stable order, so limit/offset pages never overlap
  return { limit: q.limit ?? 50, offset: q.offset ?? 0, sort };
}

export const BooleanParam = () => Transform(toBoolean);

import { Body, Controller, Get, Put, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ValidationError } from '../../common/errors';
import { parseJsonParam } from '../../common/params';
import { Access } from '../auth/access.decorators';
import { SettingsService } from './settings.service';

@ApiTags('system')
@Controller('system')
export class SettingsController {
  constructor(private readonly settings: SettingsService) {}

  @Get('setting')
  @Access.admin()
  @ApiOperation({ summary: 'Get the value of one setting (key) or several (list, a JSON array of keys)' })
  @ApiQuery({ name: 'key', required: false })
  @ApiQuery({ name: 'list', required: false, description: 'JSON list of keys' })
  async get(@Query('key') key?: string, @Query('list') list?: string): Promise<unknown> {
    if (key) return this.settings.get(key);
    if (list) {
      const keys = parseJsonParam<unknown>(list, 'list');
      if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new ValidationError('list must be a JSON array of keys.', 'list');
      const out: Record<string, unknown> = {};
      for (const k of keys as string[]) out[k] = await this.settings.get(k);
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const k of this.settings.keys()) out[k] = await this.settings.get(k);
    return out;
  }

  @Put('setting')
  @Access.admin()
  @ApiOperation({ summary: 'Set one setting (key + value as JSON) or several (list: JSON array of {key, value}); null restores the default' })
  @ApiQuery({ name: 'key', required: false })
  @ApiQuery({ name: 'value', required: false, description: 'JSON value' })
  @ApiQuery({ name: 'list', required: false, description: 'JSON list of {key, value}' })
  async set(@Query() query: Record<string, string>, @Body() body: unknown): Promise<unknown> {
    const params = { ...(body && typeof body === 'object' ? (body as Record<string, unknown>) : {}), ...query };
    if (params.list !== undefined) {
      const list = parseJsonParam<unknown>(params.list, 'list');
      if (!Array.isArray(list)) throw new ValidationError('list must be a JSON array of {key, value}.', 'list');
      // validate every entry before writing any, so a bad entry changes nothing
      for (const entry of list) this.checkEntry(entry);
      const out: unknown[] = [];
      for (const { key, value } of list as { key: string; value: unknown }[]) out.push(await this.settings.set(key, value));
      return out;
    }
    if (typeof params.key !== 'string') throw new ValidationError('Parameter key is required.', 'key');
    if (params.value === undefined) throw new ValidationError('Parameter value is required.', 'value');
    return this.settings.set(params.key, jsonOrString(params.value));
  }

  private checkEntry(entry: unknown): void {
    if (!entry || typeof entry !== 'object' || typeof (entry as { key?: unknown }).key !== 'string') {
      throw new ValidationError('Each list entry must be an object with a key and a value.', 'list');
    }
    const { key, value } = entry as { key: string; value: unknown };
    const definition = this.settings.describe(key);
    if (!definition) throw new ValidationError(`Unknown setting: ${key}`, 'key');
    if (value !== null && value !== undefined) definition.validate(value);
  }
}

/** Girder passes setting values as JSON; a bare word is taken as a string. */
function jsonOrString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

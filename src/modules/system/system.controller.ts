import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config';
import { Access } from '../auth/access.decorators';
import { DatabaseInfo } from '../database/database.module';
import { PRODUCT_VERSION } from './version';

@ApiTags('system')
@Controller('system')
export class SystemController {
  constructor(
    private readonly config: AppConfig,
    private readonly database: DatabaseInfo,
  ) {}

  @Get('version')
  @Access.public()
  @ApiOperation({
    summary: 'Server version. `release` is the Girder API level this server speaks (girder-client compares it as a string)',
  })
  version() {
    return {
      release: '5.0.0',
      apiVersion: '5.0.0',
      serverName: 'strata',
      serverVersion: PRODUCT_VERSION,
      database: this.database.engine,
      plugins: this.config.plugins,
    };
  }
}

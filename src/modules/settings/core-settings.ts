import { Injectable, OnModuleInit } from '@nestjs/common';
import { SettingsService, validators } from './settings.service';

/** Settings of the core itself. */
export const CoreSetting = {
  BRAND_NAME: 'core.brand_name',
  API_KEYS: 'core.api_keys',
} as const;

@Injectable()
export class CoreSettings implements OnModuleInit {
  constructor(private readonly settings: SettingsService) {}

  onModuleInit(): void {
    this.settings.register(CoreSetting.BRAND_NAME, {
      default: 'Strata',
      validate: validators.string({ min: 1, max: 100 }),
      description: 'Name shown in the web UI and in page titles.',
    });
    this.settings.register(CoreSetting.API_KEYS, {
      default: true,
      validate: validators.boolean,
      description: 'Whether users may create API keys.',
    });
  }
}

import { Injectable, OnModuleInit } from '@nestjs/common';
import { SettingsService, validators } from '../settings/settings.service';

export const TreeSetting = {
  /** Whether users other than admins may create collections (Girder's collection create policy). */
  USER_COLLECTIONS: 'core.user_collections',
} as const;

@Injectable()
export class TreeSettings implements OnModuleInit {
  constructor(private readonly settings: SettingsService) {}

  onModuleInit(): void {
    this.settings.register(TreeSetting.USER_COLLECTIONS, {
      default: false,
      validate: validators.boolean,
      description: 'Let every user create collections (otherwise only admins).',
    });
  }
}

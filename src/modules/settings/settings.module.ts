import { Global, Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { CoreSettings } from './core-settings';
import { SettingSchema, SETTING_MODEL } from './setting.schema';
import { SettingsController } from './settings.controller';
import { SettingsRepository } from './settings.repository';
import { SettingsService } from './settings.service';

@Global()
@Module({
  imports: [MongooseModule.forFeature([{ name: SETTING_MODEL, schema: SettingSchema }])],
  controllers: [SettingsController],
  providers: [SettingsRepository, SettingsService, CoreSettings],
  exports: [SettingsService, SettingsRepository],
})
export class SettingsModule {}

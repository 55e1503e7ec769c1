import { DynamicModule, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { RawRoutesModule } from './common/raw-routes';
import { RequestMiddleware } from './common/request.middleware';
import { AccessModule } from './modules/access/access.module';
import { AppConfig } from './modules/config/app-config';
import { ConfigModule } from './modules/config/config.module';
import { DatabaseInfo, DatabaseModule } from './modules/database/database.module';
import { EventsModule } from './modules/events/events.module';
import { AuthModule } from './modules/auth/auth.module';
import { SettingsModule } from './modules/settings/settings.module';
import { SystemModule } from './modules/system/system.module';
import { UsersModule } from './modules/users/users.module';
import { TreeModule } from './modules/tree/tree.module';
import { UploadsModule } from './modules/uploads/uploads.module';
import { ResourcesModule } from './modules/resources/resources.module';
import { HatracModule } from './modules/hatrac/hatrac.module';
import { resolvePlugins } from './plugins/registry';

@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig, database: DatabaseInfo): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(database),
        EventsModule,
        RawRoutesModule,
        AccessModule,
        SettingsModule,
        // AuthModule first: its literal routes (user/authentication) must precede user/:id
        AuthModule,
        UsersModule,
        TreeModule,
        UploadsModule,
        ResourcesModule,
        SystemModule,
        HatracModule,
        ...resolvePlugins(config.plugins).map((p) => p.module),
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}

import { Module } from '@nestjs/common';
import { TreeModule } from '../tree/tree.module';
import { UsersModule } from '../users/users.module';
import { ResourceController } from './resource.controller';
import { ResourcesService } from './resources.service';

@Module({ imports: [TreeModule, UsersModule], controllers: [ResourceController], providers: [ResourcesService], exports: [ResourcesService] })
export class ResourcesModule {}

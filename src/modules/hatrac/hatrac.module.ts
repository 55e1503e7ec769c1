import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AccessModule } from '../access/access.module';
import { AuthModule } from '../auth/auth.module';
import { TreeModule } from '../tree/tree.module';
import { UsersModule } from '../users/users.module';
import { HatracBytes } from './hatrac-bytes';
import { HatracDirectory } from './hatrac-directory';
import { HatracNamesService } from './hatrac-names.service';
import { HatracRenameService } from './hatrac-rename.service';
import { HatracResolver } from './hatrac-resolver';
import { HatracSubresourcesService } from './hatrac-subresources.service';
import { HatracTree } from './hatrac-tree';
import { HatracUploadsService } from './hatrac-uploads.service';
import { HatracGateway } from './hatrac.gateway';
import { HATRAC_JOB_MODEL, HATRAC_NAME_MODEL, HatracJobSchema, HatracNameSchema } from './hatrac.schema';

/** Hatrac's versioned object API at /hatrac over the tree (DESIGN §7, docs/hatrac.md). */
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: HATRAC_NAME_MODEL, schema: HatracNameSchema },
      { name: HATRAC_JOB_MODEL, schema: HatracJobSchema },
    ]),
    AccessModule,
    AuthModule,
    TreeModule,
    UsersModule,
  ],
  providers: [HatracDirectory, HatracTree, HatracBytes, HatracResolver, HatracNamesService, HatracSubresourcesService, HatracUploadsService, HatracRenameService, HatracGateway],
})
export class HatracModule {}

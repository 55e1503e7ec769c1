import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { TokensModule } from '../../modules/auth/tokens.module';
import { TreeModule } from '../../modules/tree/tree.module';
import { UsersModule } from '../../modules/users/users.module';
import { DavDeadProps, DEAD_PROPS_MODEL, DeadPropsSchema } from './dav/dav-dead-props';
import { DavGateway } from './dav/dav-gateway';
import { DavSync } from './dav/dav-sync';
import { DavLockRules } from './dav/dav-lock-rules';
import { DAV_LOCK_MODEL, DavLocks, DavLockSchema } from './dav/dav-locks';
import { DavProps } from './dav/dav-props';
import { DavLoginCache } from './dav-logins';
import { DAV_PASSWORD_MODEL, DavPasswords, DavPasswordSchema, HomeDirPassController } from './dav-passwords';
import { Realms } from './realms';
import { ReconcileController, Reconciler } from './reconcile';
import { TALE_MODEL, TaleController, TaleSchema, TalesService } from './tales';
import { TreeToDisk } from './tree-to-disk';

/** WebDAV homes and tale workspaces kept in two-way sync with the tree (DESIGN §8). */
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: DAV_PASSWORD_MODEL, schema: DavPasswordSchema },
      { name: TALE_MODEL, schema: TaleSchema },
      { name: DAV_LOCK_MODEL, schema: DavLockSchema },
      { name: DEAD_PROPS_MODEL, schema: DeadPropsSchema },
    ]),
    TreeModule,
    UsersModule,
    TokensModule, // the CredentialCache, whose invalidation DavLoginCache follows
  ],
  controllers: [HomeDirPassController, TaleController, ReconcileController],
  providers: [Realms, DavSync, DavGateway, DavPasswords, DavLoginCache, TreeToDisk, TalesService, Reconciler, DavLocks, DavLockRules, DavDeadProps, DavProps],
  exports: [Realms, Reconciler],
})
export class HomeDirsModule {}

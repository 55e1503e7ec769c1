import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AssetstoreSchema, ASSETSTORE_MODEL } from '../../assetstores/assetstore.schema';
import { AssetstoresService } from '../../assetstores/assetstores.service';
import { DbLocks } from '../database/locks';
import { UsersModule } from '../users/users.module';
import { AccessParam } from './access-param';
import { AssetstoreController, SystemCheckController } from './controllers/admin.controller';
import { CollectionController } from './controllers/collection.controller';
import { FolderController } from './controllers/folder.controller';
import { ItemController } from './controllers/item.controller';
import { DownloadService } from './download.service';
import { CollectionsRepository } from './repositories/collections.repository';
import { FilesRepository } from './repositories/files.repository';
import { FoldersRepository } from './repositories/folders.repository';
import { ItemsRepository } from './repositories/items.repository';
import { NamesRepository } from './repositories/names.repository';
import { CollectionSchema, COLLECTION_MODEL } from './schemas/collection.schema';
import { FileSchema, FILE_MODEL } from './schemas/file.schema';
import { FolderSchema, FOLDER_MODEL } from './schemas/folder.schema';
import { ItemSchema, ITEM_MODEL } from './schemas/item.schema';
import { NameSchema, NAME_MODEL } from './schemas/name.schema';
import { TreeCheckService } from './tree-check.service';
import { TreeReader } from './tree-reader.service';
import { TreeSettings } from './tree-settings';
import { TreeSizes } from './tree-sizes';
import { TreeService } from './tree.service';
import { ZipService } from './zip.service';

/**
 * The data tree (DESIGN §3): collections, folders, items, files, their one write path
 * (TreeService), reads with access (TreeReader) and the assetstores that hold the bytes.
 */
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: COLLECTION_MODEL, schema: CollectionSchema },
      { name: FOLDER_MODEL, schema: FolderSchema },
      { name: ITEM_MODEL, schema: ItemSchema },
      { name: FILE_MODEL, schema: FileSchema },
      { name: NAME_MODEL, schema: NameSchema },
      { name: ASSETSTORE_MODEL, schema: AssetstoreSchema },
    ]),
    UsersModule,
  ],
  controllers: [CollectionController, FolderController, ItemController, AssetstoreController, SystemCheckController],
  providers: [
    CollectionsRepository,
    FoldersRepository,
    ItemsRepository,
    FilesRepository,
    NamesRepository,
    TreeService,
    TreeSizes,
    TreeReader,
    TreeCheckService,
    AccessParam,
    TreeSettings,
    DownloadService,
    ZipService,
    AssetstoresService,
    DbLocks,
  ],
  exports: [TreeService, TreeReader, DownloadService, ZipService, AssetstoresService, AccessParam, CollectionsRepository, FoldersRepository, ItemsRepository, FilesRepository],
})
export class TreeModule {}

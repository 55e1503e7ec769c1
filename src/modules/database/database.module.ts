import { DynamicModule, Global, Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import mongoose from 'mongoose';
import type { DatabaseEngine } from './database-process';

/** Which database the server runs on, for `/system/version` and the start-up line. */
export class DatabaseInfo {
  constructor(
    readonly engine: DatabaseEngine,
    readonly uri: string,
    readonly dbName: string,
  ) {}
}

/**
 * The mongoose connection. The database process itself (embedded or not) is started before Nest by
 * `startDatabase`, so that this module only connects. `autoIndex` is off: indexes are built
 * explicitly at start-up (see `ensureIndexes`) and a failure stops the server. `autoCreate` is off
 * too: building an index or the first insert creates a collection, while mongoose's own
 * `create` at every start-up fails on an existing collection (error 48, which mongoose swallows
 * but the embedded server logs as an error with a stack trace).
 * `skipOriginalStackTraces`: mongoose otherwise captures `new Error().stack` on every query (only
 * shown when a query object is executed twice, which this code never does), 1.5–2.4% of busy time.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(info: DatabaseInfo): DynamicModule {
    mongoose.set('skipOriginalStackTraces', true);
    return {
      module: DatabaseModule,
      imports: [
        MongooseModule.forRoot(info.uri, {
          dbName: info.dbName,
          autoIndex: false,
          autoCreate: false,
          serverSelectionTimeoutMS: 15_000,
        }),
      ],
      providers: [{ provide: DatabaseInfo, useValue: info }],
      exports: [DatabaseInfo],
    };
  }
}

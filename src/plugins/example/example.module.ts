import { Controller, Get, Injectable, Module, OnModuleInit } from '@nestjs/common';
import { InjectModel, MongooseModule } from '@nestjs/mongoose';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Model, Schema } from 'mongoose';
import { AssetstoresService } from '../../assetstores/assetstores.service';
import { Access } from '../../modules/auth/access.decorators';
import { AppEvent } from '../../modules/events/event-bus';
import { EventMap } from '../../modules/events/event-map';
import { OnEvent } from '../../modules/events/on-event.decorator';
import { SettingsService, validators } from '../../modules/settings/settings.service';
import { TreeModule } from '../../modules/tree/tree.module';
import { FLAT, flatFactory } from './flat.assetstore';

/** The plugin's own collection: one document per processed upload. */
interface ProcessedDoc {
  fileId: unknown;
  name: string;
  size: number;
  at: Date;
}
const PROCESSED = 'example_processed';
const ProcessedSchema = new Schema<ProcessedDoc>({ fileId: Schema.Types.ObjectId, name: String, size: Number, at: Date }, { collection: PROCESSED, versionKey: false });
ProcessedSchema.index({ at: -1 });

export const GREETING = 'example.greeting';

@Injectable()
export class ExampleService implements OnModuleInit {
  constructor(
    @InjectModel(PROCESSED) private readonly processed: Model<ProcessedDoc>,
    private readonly settings: SettingsService,
    private readonly assetstores: AssetstoresService,
  ) {}

  onModuleInit(): void {
    // a setting with a validator and a default
    this.settings.register(GREETING, { default: 'Hello', validate: validators.string({ min: 1, max: 100 }), description: 'What /example/stats says.' });
    // an assetstore type
    this.assetstores.registerType(FLAT, flatFactory);
  }

  /** An event handler: every finished upload is counted. */
  @OnEvent('data.process', 'example.count')
  async onUpload(event: AppEvent<EventMap['data.process']>): Promise<void> {
    await this.processed.create({ fileId: event.info.file._id, name: event.info.file.name, size: event.info.file.size, at: new Date() });
  }

  async stats() {
    const [count, last] = await Promise.all([this.processed.countDocuments().exec(), this.processed.findOne().sort({ at: -1 }).lean().exec()]);
    return { greeting: await this.settings.get<string>(GREETING), uploads: count, last: last?.name ?? null };
  }
}

@ApiTags('example')
@Controller('example')
export class ExampleController {
  constructor(private readonly example: ExampleService) {}

  /** A route. */
  @Get('stats')
  @Access.user()
  @ApiOperation({ summary: 'Example plugin: how many uploads it has seen' })
  stats() {
    return this.example.stats();
  }
}

@Module({
  imports: [MongooseModule.forFeature([{ name: PROCESSED, schema: ProcessedSchema }]), TreeModule],
  controllers: [ExampleController],
  providers: [ExampleService],
})
export class ExampleModule {}

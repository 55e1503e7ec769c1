import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { TreeModule } from '../tree/tree.module';
import { FileController } from './file.controller';
import { UploadSchema, UPLOAD_MODEL } from './upload.schema';
import { UploadsRepository } from './uploads.repository';
import { UploadsService } from './uploads.service';

@Module({
  imports: [MongooseModule.forFeature([{ name: UPLOAD_MODEL, schema: UploadSchema }]), TreeModule],
  controllers: [FileController],
  providers: [UploadsRepository, UploadsService],
  exports: [UploadsService],
})
export class UploadsModule {}

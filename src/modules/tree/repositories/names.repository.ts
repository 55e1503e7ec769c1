import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { driverCollection } from '../../../common/driver-collection';
import { isDuplicateKeyError } from '../../../common/errors';
import { ParentType } from '../schemas/common';
import { NAME_MODEL, NameDoc } from '../schemas/name.schema';

export function nameKey(parentType: ParentType, parentId: Types.ObjectId, lowerName: string): string {
  return `${parentType}:${String(parentId)}:${lowerName}`;
}

/** Every query on the `name` collection (child-name reservations). */
@Injectable()
export class NamesRepository {
  constructor(@InjectModel(NAME_MODEL) private readonly model: Model<NameDoc>) {}

  /** Takes a name; false when someone holds it. */
  async reserve(key: string, kind: NameDoc['kind'], nodeId: Types.ObjectId): Promise<boolean> {
    // every create of a folder or item passes here: a document the schema would accept as it is
    // goes straight to the driver (the same insert, without building a mongoose document)
    const direct = typeof key === 'string' && key !== '' && (kind === 'folder' || kind === 'item') && nodeId instanceof Types.ObjectId ? driverCollection(this.model) : undefined;
    try {
      if (direct) await direct.insertOne({ _id: key as never, kind, nodeId, created: new Date() });
      else await this.model.create({ _id: key, kind, nodeId, created: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
  }

  find(key: string): Promise<NameDoc | null> {
    return this.model.findById(key).lean<NameDoc>().exec();
  }

  /** Gives a name back, only if `nodeId` holds it. */
  async release(key: string, nodeId: Types.ObjectId): Promise<void> {
    // every rename, move and delete passes here
    const direct = typeof key === 'string' && nodeId instanceof Types.ObjectId ? driverCollection(this.model) : undefined;
    if (direct) await direct.deleteOne({ _id: key as never, nodeId });
    else await this.model.deleteOne({ _id: key, nodeId }).exec();
  }

  async releaseAllOf(nodeId: Types.ObjectId): Promise<void> {
    await this.model.deleteMany({ nodeId }).exec();
  }

  all(): AsyncIterable<NameDoc> {
    return this.model.find({}).lean<NameDoc>().cursor();
  }
}

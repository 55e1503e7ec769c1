import { idString, isoDate } from '../../common/serialize';
import { AccessLevel } from '../access/access-level';
import type { UserDoc } from '../users/user.schema';
import type { CollectionDoc } from './schemas/collection.schema';
import type { FileDoc } from './schemas/file.schema';
import type { FolderDoc } from './schemas/folder.schema';
import type { ItemDoc } from './schemas/item.schema';

/** Tree nodes as the API shows them: Girder's fields, `_modelType` and `_accessLevel`. Never `access`, `sha512` or `path`. */
export function mapCollection(doc: CollectionDoc, level: AccessLevel) {
  return {
    _id: idString(doc._id),
    _modelType: 'collection',
    _accessLevel: level,
    name: doc.name,
    description: doc.description,
    public: doc.public,
    creatorId: idString(doc.creatorId),
    meta: doc.meta ?? {},
    size: doc.size,
    created: isoDate(doc.created),
    updated: isoDate(doc.updated),
  };
}

export function mapFolder(doc: FolderDoc, level: AccessLevel) {
  return {
    _id: idString(doc._id),
    _modelType: 'folder',
    _accessLevel: level,
    name: doc.name,
    description: doc.description,
    parentId: idString(doc.parentId),
    parentCollection: doc.parentCollection,
    baseParentType: doc.baseParentType,
    baseParentId: idString(doc.baseParentId),
    creatorId: idString(doc.creatorId),
    public: doc.public,
    meta: doc.meta ?? {},
    size: doc.size,
    sizeRecursive: doc.sizeRecursive,
    created: isoDate(doc.created),
    updated: isoDate(doc.updated),
    ...hatracView(doc.hatrac),
  };
}

export function mapItem(doc: ItemDoc, level: AccessLevel) {
  return {
    _id: idString(doc._id),
    _modelType: 'item',
    _accessLevel: level,
    name: doc.name,
    description: doc.description,
    folderId: idString(doc.folderId),
    baseParentType: doc.baseParentType,
    baseParentId: idString(doc.baseParentId),
    creatorId: idString(doc.creatorId),
    meta: doc.meta ?? {},
    size: doc.size,
    created: isoDate(doc.created),
    updated: isoDate(doc.updated),
    ...(doc.copyOfItem ? { copyOfItem: idString(doc.copyOfItem) } : {}),
    ...hatracView(doc.hatrac),
  };
}

export function mapFile(doc: FileDoc, viewer: UserDoc | null) {
  return {
    _id: idString(doc._id),
    _modelType: 'file',
    name: doc.name,
    itemId: idString(doc.itemId),
    size: doc.size,
    mimeType: doc.mimeType,
    exts: doc.exts,
    creatorId: idString(doc.creatorId),
    created: isoDate(doc.created),
    updated: isoDate(doc.updated),
    ...(viewer?.admin ? { assetstoreId: idString(doc.assetstoreId) } : {}),
    ...hatracView(doc.hatrac),
  };
}

/** What REST shows of a Hatrac node (DESIGN §7): its kind and name, or a version's id and metadata; never its ACLs. */
function hatracView(hatrac: Record<string, unknown> | null | undefined) {
  if (!hatrac) return {};
  const shown: Record<string, unknown> = {};
  for (const key of ['kind', 'name', 'version', 'metadata', 'renameTo']) if (hatrac[key] != null) shown[key] = hatrac[key];
  return { hatrac: shown };
}

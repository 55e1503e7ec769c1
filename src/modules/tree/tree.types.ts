import type { UserDoc } from '../users/user.schema';
import type { CollectionDoc } from './schemas/collection.schema';
import type { FolderDoc } from './schemas/folder.schema';
import type { ParentType } from './schemas/common';

/** The parent of a folder: a user, a collection or a folder, with its document. */
export type ParentRef =
  | { type: 'user'; doc: UserDoc }
  | { type: 'collection'; doc: CollectionDoc }
  | { type: 'folder'; doc: FolderDoc };

export type NodeKind = 'collection' | 'folder' | 'item' | 'file';

export function parentRefType(ref: ParentRef): ParentType {
  return ref.type;
}

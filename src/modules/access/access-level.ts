import type { Types } from 'mongoose';

/** Girder's access levels; a higher level implies every lower one. */
export enum AccessLevel {
  NONE = -1,
  READ = 0,
  WRITE = 1,
  ADMIN = 2,
}

export interface AccessEntry {
  id: Types.ObjectId;
  level: AccessLevel;
}

/** The ACL carried by access-controlled documents (groups now; collections and folders later). */
export interface AccessList {
  users: AccessEntry[];
  groups: AccessEntry[];
}

export interface AccessControlled {
  public?: boolean;
  access?: AccessList;
}

export const LEVEL_NAMES: Record<AccessLevel, string> = {
  [AccessLevel.NONE]: 'No',
  [AccessLevel.READ]: 'Read',
  [AccessLevel.WRITE]: 'Write',
  [AccessLevel.ADMIN]: 'Admin',
};

export function isAccessLevel(value: unknown): value is AccessLevel.READ | AccessLevel.WRITE | AccessLevel.ADMIN {
  return value === AccessLevel.READ || value === AccessLevel.WRITE || value === AccessLevel.ADMIN;
}

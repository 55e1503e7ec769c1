import { Types } from 'mongoose';

/** Wire form of ids and dates: strings, as Girder's JSON encoder writes them. */
export function idString(id: Types.ObjectId | string | null | undefined): string | null {
  return id == null ? null : String(id);
}

export function isoDate(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}


import type { UserDoc } from '../users/user.schema';
import type { GroupDoc } from '../users/group.schema';

/** `info` of a `model.<type>.save` event: the document to write and, for an update, the stored one. */
export interface SaveInfo<T> {
  doc: T;
  previous?: T;
}

/**
 * Every event name and its `info` type. A plugin adds its own events by augmenting this interface
 * (`declare module '.../events/event-map' { interface EventMap { 'myplugin.thing': Info } }`), so a
 * wrong name or payload fails to compile.
 */
export interface EventMap {
  'model.user.save': SaveInfo<UserDoc>;
  'model.user.save.created': UserDoc;
  'model.user.save.after': SaveInfo<UserDoc>;
  'model.user.remove': UserDoc;
  'model.user.remove.after': UserDoc;
  'model.group.save': SaveInfo<GroupDoc>;
  'model.group.save.created': GroupDoc;
  'model.group.save.after': SaveInfo<GroupDoc>;
  'model.group.remove': GroupDoc;
  'model.group.remove.after': GroupDoc;
  /** A password login: a handler may accept it by adding the user as a response (LDAP-style). */
  'model.user.authenticate': { login: string; password: string };
}

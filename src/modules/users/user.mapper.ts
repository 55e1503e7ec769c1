import { idString, isoDate } from '../../common/serialize';
import { AccessLevel } from '../access/access-level';
import { sameId } from '../access/access.service';
import type { UserDoc } from './user.schema';

/**
 * A user as the API shows it to `viewer`. Everyone logged in sees names; the user themselves and
 * site admins also see email, groups and status. The password hash never leaves the server.
 */
export function mapUser(user: UserDoc, viewer: UserDoc | null) {
  const full = Boolean(viewer && (viewer.admin || sameId(viewer._id, user._id)));
  const out: Record<string, unknown> = {
    _id: idString(user._id),
    _modelType: 'user',
    _accessLevel: full ? AccessLevel.ADMIN : AccessLevel.READ,
    login: user.login,
    firstName: user.firstName,
    lastName: user.lastName,
    name: `${user.firstName} ${user.lastName}`,
    admin: user.admin,
    public: true,
    created: isoDate(user.created),
    size: user.size,
  };
  if (full) {
    out.email = user.email;
    out.status = user.status;
    out.emailVerified = true;
    out.groups = (user.groups ?? []).map(idString);
    out.updated = isoDate(user.updated);
  }
  return out;
}

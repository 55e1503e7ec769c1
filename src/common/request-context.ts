import { AsyncLocalStorage } from 'node:async_hooks';
import type { UserDoc } from '../modules/users/user.schema';
import type { TokenDoc } from '../modules/auth/token.schema';

/** Which surface an operation came in through; event handlers use it (e.g. to skip their own echo). */
export type Origin = 'rest' | 'dav' | 'hatrac' | 'reconcile' | 'system';

export interface RequestState {
  origin: Origin;
  ip?: string;
  user: UserDoc | null;
  token: TokenDoc | null;
}

const storage = new AsyncLocalStorage<RequestState>();

/**
 * The current user and origin of the operation in progress, carried through async calls so that
 * services need not thread a user through every signature (DESIGN §4).
 */
export const RequestContext = {
  run<T>(state: Partial<RequestState> & { origin: Origin }, fn: () => T): T {
    return storage.run({ user: null, token: null, ...state }, fn);
  },
  /** The state of the current request; outside any, a system context. */
  current(): RequestState {
    return storage.getStore() ?? { origin: 'system', user: null, token: null };
  },
  user(): UserDoc | null {
    return storage.getStore()?.user ?? null;
  },
  origin(): Origin {
    return storage.getStore()?.origin ?? 'system';
  },
  /** Fills in the authenticated user of the current request. */
  setAuth(user: UserDoc | null, token: TokenDoc | null): void {
    const state = storage.getStore();
    if (state) {
      state.user = user;
      state.token = token;
    }
  },
};

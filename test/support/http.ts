export interface CallOptions {
  token?: string;
  bearer?: string;
  basic?: [string, string];
  cookie?: string;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  form?: Record<string, string>;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export interface CallResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One HTTP call against the API under test (real HTTP, Node's fetch). */
export async function call<T = any>(base: string, method: string, path: string, opts: CallOptions = {}): Promise<CallResult<T>> {
  const url = new URL(base + path);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers['Girder-Token'] = opts.token;
  if (opts.bearer) headers.Authorization = `Bearer ${opts.bearer}`;
  if (opts.basic) headers.Authorization = `Basic ${Buffer.from(`${opts.basic[0]}:${opts.basic[1]}`, 'utf8').toString('base64')}`;
  if (opts.cookie) headers.Cookie = opts.cookie;
  let body: string | Buffer | undefined = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] ??= 'application/json';
  }
  if (opts.form) {
    body = new URLSearchParams(opts.form).toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** A client bound to one server, optionally logged in. */
export function client(api: string, auth: Omit<CallOptions, 'query' | 'json' | 'form' | 'body'> = {}) {
  const go = <T = any>(method: string, path: string, opts: CallOptions = {}) => call<T>(api, method, path, { ...auth, ...opts });
  return {
    get: <T = any>(path: string, opts?: CallOptions) => go<T>('GET', path, opts),
    post: <T = any>(path: string, opts?: CallOptions) => go<T>('POST', path, opts),
    put: <T = any>(path: string, opts?: CallOptions) => go<T>('PUT', path, opts),
    delete: <T = any>(path: string, opts?: CallOptions) => go<T>('DELETE', path, opts),
  };
}

/** Registers a user through the API and returns it with its token. */
export async function registerUser(api: string, login: string, password = 'password-1', extra: Record<string, string> = {}) {
  const res = await call(api, 'POST', '/user', {
    query: { login, email: `${login}@example.org`, firstName: 'First', lastName: login, password, ...extra },
  });
  if (res.status !== 200) throw new Error(`registering ${login}: ${res.status} ${res.text}`);
  return { user: res.body, token: res.body.authToken.token as string, password };
}

export async function login(api: string, loginName: string, password: string): Promise<string> {
  const res = await call(api, 'GET', '/user/authentication', { basic: [loginName, password] });
  if (res.status !== 200) throw new Error(`login ${loginName}: ${res.status} ${res.text}`);
  return res.body.authToken.token;
}

import { HatracError } from '../../src/modules/hatrac/hatrac-errors';
import { checkPreconditions, negotiate, parseChecksum, parseRange } from '../../src/modules/hatrac/hatrac-http';
import { newVersionId } from '../../src/modules/hatrac/hatrac-resolver';
import { ancestorsOf, displayName, parseHatracPath } from '../../src/modules/hatrac/hatrac-url';

/** The pure protocol rules of the Hatrac module; the e2e suite drives them through HTTP. */
function status(fn: () => unknown): number | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof HatracError) return err.status;
    throw err;
  }
}

describe('Hatrac URLs', () => {
  it('parses names, versions and sub-resources, keeping escapes as written', () => {
    expect(parseHatracPath('/')).toEqual({ kind: 'name', name: '/' });
    expect(parseHatracPath('')).toEqual({ kind: 'name', name: '/' });
    expect(parseHatracPath('//ns//a%20b/')).toEqual({ kind: 'name', name: '/ns/a%20b' });
    expect(parseHatracPath('/ns/obj:ABC')).toEqual({ kind: 'version', name: '/ns/obj', version: 'ABC' });
    expect(parseHatracPath('/ns/obj;versions')).toEqual({ kind: 'versions', name: '/ns/obj' });
    expect(parseHatracPath('/;acl')).toEqual({ kind: 'acl', name: '/', version: undefined, acl: undefined, role: undefined });
    expect(parseHatracPath('/ns/obj:V;acl/read/%2A')).toEqual({ kind: 'acl', name: '/ns/obj', version: 'V', acl: 'read', role: '*' });
    expect(parseHatracPath('/ns/obj;metadata/content-type')).toEqual({ kind: 'metadata', name: '/ns/obj', version: undefined, field: 'content-type' });
    expect(parseHatracPath('/ns/obj;upload/J/3')).toEqual({ kind: 'upload', name: '/ns/obj', job: 'J', chunk: '3' });
  });

  it('refuses illegal characters (400) and unknown sub-resources (404)', () => {
    expect(status(() => parseHatracPath('/ns/a b'))).toBe(400);
    expect(status(() => parseHatracPath('/ns/a+b'))).toBe(400);
    expect(status(() => parseHatracPath('/ns/%zz'))).toBe(400);
    expect(status(() => parseHatracPath('/ns/é'))).toBe(400);
    expect(status(() => parseHatracPath('/ns/obj;bogus'))).toBe(404);
    expect(status(() => parseHatracPath('/ns/obj:V;versions'))).toBe(404);
  });

  it('knows ancestors and readable tree names', () => {
    expect(ancestorsOf('/a/b/c')).toEqual(['/', '/a', '/a/b']);
    expect(ancestorsOf('/')).toEqual([]);
    expect(displayName('%C3%A9t%C3%A9')).toBe('été');
    expect(displayName('a%2Fb')).toBe('a%2Fb');
    expect(displayName('%FF')).toBe('%FF');
  });
});

describe('Hatrac HTTP rules', () => {
  const h = (headers: Record<string, string>) => headers;
  it('answers preconditions as the reference: 304 on GET (even for If-Match), 412 otherwise', () => {
    expect(status(() => checkPreconditions(h({ 'if-none-match': '"A"' }), 'GET', '"A"'))).toBe(304);
    expect(status(() => checkPreconditions(h({ 'if-match': '"B"' }), 'GET', '"A"'))).toBe(304);
    expect(status(() => checkPreconditions(h({ 'if-match': '"B", W/"A"' }), 'PUT', '"A"'))).toBe('ok');
    expect(status(() => checkPreconditions(h({ 'if-match': '*' }), 'PUT', null))).toBe(412);
    expect(status(() => checkPreconditions(h({ 'if-none-match': '*' }), 'PUT', null))).toBe('ok');
    expect(status(() => checkPreconditions(h({ 'if-none-match': '*' }), 'DELETE', '"A"'))).toBe(412);
  });

  it('parses single byte ranges', () => {
    expect(parseRange('bytes=2-4', 10)).toEqual({ start: 2, end: 4 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=-30', 10)).toBe('full');
    expect(parseRange('bytes=5-100', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=4-2', 10)).toBeNull();
    expect(parseRange('bytes=-0', 10)).toBeNull();
    expect(parseRange('garbage', 10)).toBeNull();
    expect(status(() => parseRange('bytes=10-', 10))).toBe(416);
    expect(status(() => parseRange('bytes=0-1,3-4', 10))).toBe(501);
    expect(status(() => parseRange('items=0-1', 10))).toBe(501);
  });

  it('reads checksums in base64 or hex and refuses wrong lengths', () => {
    const md5 = Buffer.alloc(16, 7);
    expect(parseChecksum(md5.toString('base64'), 'md5')).toEqual(md5);
    expect(parseChecksum(md5.toString('hex'), 'md5')).toEqual(md5);
    expect(status(() => parseChecksum('abcd', 'md5'))).toBe(400);
    expect(status(() => parseChecksum(md5.toString('base64'), 'sha256'))).toBe(400);
  });

  it('negotiates listings by Accept and q-values', () => {
    expect(negotiate(undefined)).toBe('json');
    expect(negotiate('text/uri-list')).toBe('uri-list');
    expect(negotiate('text/html;q=0.5, application/json;q=0.9')).toBe('json');
    expect(negotiate('text/html')).toBe('html');
  });

  it('makes 26-character base32 version ids', () => {
    const ids = new Set(Array.from({ length: 100 }, newVersionId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[A-Z2-7]{26}$/);
  });
});

/**
 * The XML of WebDAV bodies: a small, strict, namespace-aware parser for the request bodies this
 * server reads itself (PROPFIND, PROPPATCH), a serializer that makes a stored fragment carry its
 * own namespace declarations, and the escaping of text and hrefs in responses. Malformed input
 * (bad syntax, an unbound prefix, `xmlns:p=""`, undefined entities, a DOCTYPE) is an XmlError.
 */

/** An element; `ns` is the namespace name, '' for none (an empty namespace cannot be declared). */
export interface XmlElement {
  ns: string;
  local: string;
  attrs: XmlAttr[];
  children: XmlNode[];
}
export interface XmlAttr {
  ns: string;
  local: string;
  value: string;
}
export type XmlNode = XmlElement | string;

export class XmlError extends Error {}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
const NAME = /^[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*(?::[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*)?/;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Parses a whole document and returns its root element. */
export function parseXml(input: string): XmlElement {
  const src = input.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  let i = 0;
  const fail = (what: string): never => {
    throw new XmlError(`${what} at offset ${i}`);
  };
  const badChar = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/.exec(src);
  if (badChar) {
    i = badChar.index;
    fail('a character not allowed in XML');
  }
  const skipSpace = () => {
    while (i < src.length && ' \t\n'.includes(src[i])) i++;
  };
  const take = (s: string) => {
    if (!src.startsWith(s, i)) fail(`expected "${s}"`);
    i += s.length;
  };
  const name = (): string => {
    const m = NAME.exec(src.slice(i, i + 1024));
    if (!m) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const decode = (text: string): string =>
    text.replace(/&([^;&]*);|&/g, (whole, ref: string | undefined) => {
      if (ref === undefined) fail('a bare "&"');
      if (ref![0] === '#') {
        const code = ref![1] === 'x' ? parseInt(ref!.slice(2), 16) : parseInt(ref!.slice(1), 10);
        const valid = /^#(x[0-9a-fA-F]+|[0-9]+)$/.test(ref!) && (code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff));
        if (!valid) fail(`an invalid character reference ${whole}`);
        return String.fromCodePoint(code);
      }
      if (!(ref! in ENTITIES)) fail(`an undefined entity ${whole}`);
      return ENTITIES[ref!];
    });
  /** Comments, processing instructions and (outside the root) white space. */
  const misc = (allowText: boolean): boolean => {
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0 || src.slice(i + 4, end).includes('--')) fail('a bad comment');
      i = end + 3;
      return true;
    }
    if (src.startsWith('<?', i)) {
      const end = src.indexOf('?>', i + 2);
      if (end < 0 || /^xml[\s?]/i.test(src.slice(i + 2, i + 6))) fail('a bad processing instruction');
      i = end + 2;
      return true;
    }
    if (!allowText && ' \t\n'.includes(src[i] ?? 'x')) {
      skipSpace();
      return true;
    }
    return false;
  };

  const element = (scope: Map<string, string>): XmlElement => {
    take('<');
    const qname = name();
    const raw: { qname: string; value: string }[] = [];
    for (;;) {
      const before = i;
      skipSpace();
      if (src.startsWith('/>', i) || src[i] === '>') break;
      if (i === before) fail('expected white space before an attribute');
      const attr = name();
      skipSpace();
      take('=');
      skipSpace();
      const quote = src[i];
      if (quote !== '"' && quote !== "'") fail('expected a quoted attribute value');
      const end = src.indexOf(quote, i + 1);
      if (end < 0) fail('an unterminated attribute value');
      const value = src.slice(i + 1, end);
      if (value.includes('<')) fail('"<" in an attribute value');
      if (raw.some((a) => a.qname === attr)) fail(`a repeated attribute ${attr}`);
      raw.push({ qname: attr, value: decode(value).replace(/[\t\n]/g, ' ') });
      i = end + 1;
    }
    // namespace declarations first: they apply to this element's own name and attributes
    const inner = new Map(scope);
    for (const a of raw) {
      if (a.qname === 'xmlns') inner.set('', a.value);
      else if (a.qname.startsWith('xmlns:')) {
        const prefix = a.qname.slice(6);
        if (a.value === '' || prefix === 'xmlns' || (prefix === 'xml') !== (a.value === XML_NS) || a.value === XMLNS_NS) fail(`an invalid declaration of prefix ${prefix}`);
        inner.set(prefix, a.value);
      }
    }
    const resolve = (q: string, isAttr: boolean): { ns: string; local: string } => {
      const colon = q.indexOf(':');
      if (colon < 0) return { ns: isAttr ? '' : (inner.get('') ?? ''), local: q };
      const ns = inner.get(q.slice(0, colon));
      if (ns === undefined || ns === '') fail(`an undeclared prefix in ${q}`);
      return { ns: ns!, local: q.slice(colon + 1) };
    };
    const el: XmlElement = { ...resolve(qname, false), attrs: [], children: [] };
    for (const a of raw) {
      if (a.qname === 'xmlns' || a.qname.startsWith('xmlns:')) continue;
      const { ns, local } = resolve(a.qname, true);
      if (el.attrs.some((b) => b.ns === ns && b.local === local)) fail(`a repeated attribute ${a.qname}`);
      el.attrs.push({ ns, local, value: a.value });
    }
    if (src.startsWith('/>', i)) {
      i += 2;
      return el;
    }
    i++;
    let text = '';
    const flush = () => {
      if (text) el.children.push(decode(text));
      text = '';
    };
    for (;;) {
      if (i >= src.length) fail(`an unclosed element ${qname}`);
      if (src.startsWith('</', i)) {
        flush();
        i += 2;
        if (name() !== qname) fail(`a mismatched end tag for ${qname}`);
        skipSpace();
        take('>');
        return el;
      }
      if (src.startsWith('<![CDATA[', i)) {
        flush();
        const end = src.indexOf(']]>', i + 9);
        if (end < 0) fail('an unterminated CDATA section');
        el.children.push(src.slice(i + 9, end));
        i = end + 3;
      } else if (src.startsWith('<!--', i) || src.startsWith('<?', i)) {
        flush();
        misc(true);
      } else if (src[i] === '<') {
        flush();
        el.children.push(element(inner));
      } else {
        const next = src.indexOf('<', i);
        const end = next < 0 ? src.length : next;
        if (src.slice(i, end).includes(']]>')) fail('"]]>" in text');
        text += src.slice(i, end);
        i = end;
      }
    }
  };

  if (src.startsWith('<?xml', i) && /[\s?]/.test(src[i + 5] ?? '')) {
    const end = src.indexOf('?>', i);
    if (end < 0) fail('an unterminated XML declaration');
    const encoding = /encoding\s*=\s*["']([^"']*)["']/.exec(src.slice(i, end))?.[1];
    if (encoding && !/^(utf-8|us-ascii)$/i.test(encoding)) fail(`an unsupported encoding ${encoding}`);
    i = end + 2;
  }
  while (misc(false));
  if (src.startsWith('<!DOCTYPE', i)) fail('a DOCTYPE (not accepted)');
  if (src[i] !== '<') fail('expected the root element');
  const root = element(new Map([['xml', XML_NS]]));
  while (misc(false));
  if (i < src.length) fail('content after the root element');
  return root;
}

/** The child elements of an element (text and white space between them dropped). */
export function childElements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string');
}

export function isElement(el: XmlElement, ns: string, local: string): boolean {
  return el.ns === ns && el.local === local;
}

/**
 * Serializes an element so that it stands on its own anywhere: the element declares its namespace
 * as the default (`xmlns=""` for none), descendants where it changes, and namespaced attributes
 * get their own prefixes.
 */
export function serializeElement(el: XmlElement, inheritedDefault?: string): string {
  let out = `<${el.local}`;
  if (el.ns !== inheritedDefault) out += ` xmlns="${escapeXml(el.ns)}"`;
  el.attrs.forEach((a, n) => {
    if (a.ns === '') out += ` ${a.local}="${escapeXml(a.value)}"`;
    else if (a.ns === XML_NS) out += ` xml:${a.local}="${escapeXml(a.value)}"`;
    else out += ` xmlns:a${n}="${escapeXml(a.ns)}" a${n}:${a.local}="${escapeXml(a.value)}"`;
  });
  if (!el.children.length) return `${out}/>`;
  out += '>';
  for (const c of el.children) out += typeof c === 'string' ? escapeXml(c) : serializeElement(c, el.ns);
  return `${out}</${el.local}>`;
}

/** An empty element naming a property, e.g. in a 404 propstat or a PROPPATCH answer. */
export function emptyElement(ns: string, local: string): string {
  return `<${local} xmlns="${escapeXml(ns)}"/>`;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\r': '&#13;' };
const NEEDS_ESCAPE = /[&<>"\r]/;

/** Escapes text and attribute values (quotes included, and CR, which a parser would drop). */
export function escapeXml(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/[&<>"\r]/g, (c) => ESCAPES[c]) : s;
}

/** Encodes a path for an href segment by segment, so every character of a name round-trips. */
export function encodeHref(url: string): string {
  return url.split('/').map(encodeSegment).join('/');
}

/** What encodeURIComponent leaves bare but a segment of an href should not. */
const RESERVED_LEFT = /[!'()*]/;

export function encodeSegment(segment: string): string {
  const encoded = encodeURIComponent(segment);
  return RESERVED_LEFT.test(encoded) ? encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : encoded;
}

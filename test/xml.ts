// A strict little XML reader for the tests: enough of XML 1.0 to reject what a browser
// would refuse to render as SVG (unclosed or mismatched tags, unquoted or repeated
// attributes, bare & or <, text outside the root) and to hand back the element tree.
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][\w.:-]*/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string, where: number): string {
  if (s.includes('<')) throw new Error(`'<' in text or attribute near offset ${where}`);
  return s.replace(/&([^;]*);?/g, (m, ref: string) => {
    if (!m.endsWith(';')) throw new Error(`unterminated entity near offset ${where}`);
    if (ref in ENTITIES) return ENTITIES[ref];
    if (/^#\d+$/.test(ref)) return String.fromCodePoint(Number(ref.slice(1)));
    if (/^#x[0-9a-fA-F]+$/.test(ref)) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    throw new Error(`unknown entity &${ref}; near offset ${where}`);
  });
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  const skipMisc = (): void => {
    for (;;) {
      const ws = /^\s*/.exec(src.slice(i))![0].length;
      i += ws;
      if (src.startsWith('<?', i)) i = must(src.indexOf('?>', i), 'unterminated <?') + 2;
      else if (src.startsWith('<!--', i)) i = must(src.indexOf('-->', i), 'unterminated comment') + 3;
      else return;
    }
  };
  const must = (at: number, message: string): number => {
    if (at < 0) throw new Error(message);
    return at;
  };
  const element = (): XmlElement => {
    if (src[i] !== '<') throw new Error(`expected an element at offset ${i}`);
    i++;
    const name = NAME.exec(src.slice(i))?.[0];
    if (!name) throw new Error(`bad tag name at offset ${i}`);
    i += name.length;
    const el: XmlElement = { name, attrs: {}, children: [], text: '' };
    for (;;) {
      const ws = /^\s*/.exec(src.slice(i))![0].length;
      i += ws;
      if (src.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (src[i] === '>') break;
      if (ws === 0) throw new Error(`expected whitespace before attribute at offset ${i}`);
      const attr = /^([A-Za-z_:][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(src.slice(i));
      if (!attr) throw new Error(`bad attribute in <${name}> at offset ${i}`);
      if (attr[1] in el.attrs) throw new Error(`repeated attribute ${attr[1]} in <${name}>`);
      el.attrs[attr[1]] = decode(attr[3] ?? attr[4], i);
      i += attr[0].length;
    }
    i++;
    for (;;) {
      const lt = must(src.indexOf('<', i), `<${name}> is never closed`);
      el.text += decode(src.slice(i, lt), i);
      i = lt;
      if (src.startsWith('</', i)) {
        const close = new RegExp(`^</${name.replace(/[.:-]/g, '\\$&')}\\s*>`).exec(src.slice(i));
        if (!close) throw new Error(`<${name}> closed by ${src.slice(i, i + 20)} at offset ${i}`);
        i += close[0].length;
        return el;
      }
      if (src.startsWith('<!--', i)) i = must(src.indexOf('-->', i), 'unterminated comment') + 3;
      else el.children.push(element());
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== src.length) throw new Error(`content after the root element at offset ${i}`);
  return root;
}

/** Every element named `name` in the tree, document order. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => findAll(c, name))];
}

// Parses the data literal that the nsfwjs model bundles wrap (minified JS object syntax: unquoted
// keys, `!0`/`!1`, `.5`), so the model JSON is read without running the bundle's browser code.
import { ConversionError } from './conversion-error';

export type JsValue = null | boolean | number | string | JsValue[] | { [key: string]: JsValue };

export function parseJsLiteral(text: string, start = 0): { value: JsValue; end: number } {
  let i = start;
  const fail = (what: string): never => {
    throw new ConversionError('BAD_MODEL_SOURCE', `${what} at offset ${i}: ${JSON.stringify(text.slice(i, i + 30))}`);
  };
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const parseString = (): string => {
    const quote = text[i];
    let out = '';
    i++;
    while (i < text.length && text[i] !== quote) {
      if (text[i] === '\\') {
        const c = text[i + 1];
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' };
        if (c === 'u') {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else if (c === 'x') {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16));
          i += 4;
        } else {
          out += simple[c] ?? c;
          i += 2;
        }
      } else {
        out += text[i++];
      }
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    return out;
  };
  const parseValue = (): JsValue => {
    skipSpace();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [key: string]: JsValue } = {};
      skipSpace();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        skipSpace();
        let key: string;
        if (text[i] === '"' || text[i] === "'") key = parseString();
        else {
          const m = /^[A-Za-z_$0-9][\w$]*/.exec(text.slice(i, i + 256));
          if (!m) return fail('expected a key');
          key = m[0];
          i += key.length;
        }
        skipSpace();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        obj[key] = parseValue();
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: JsValue[] = [];
      skipSpace();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue());
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"' || c === "'") return parseString();
    if (text.startsWith('!0', i)) {
      i += 2;
      return true;
    }
    if (text.startsWith('!1', i)) {
      i += 2;
      return false;
    }
    for (const [word, value] of [['true', true], ['false', false], ['null', null], ['void 0', null]] as const) {
      if (text.startsWith(word, i) && !/[\w$]/.test(text[i + word.length] ?? '')) {
        i += word.length;
        return value;
      }
    }
    const m = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
    if (m) {
      i += m[0].length;
      return Number(m[0]);
    }
    if (text.startsWith('1/0', i)) fail('Infinity is not supported');
    return fail('unexpected token');
  };
  const value = parseValue();
  return { value, end: i };
}

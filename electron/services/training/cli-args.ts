// A small flag parser for the training and evaluation commands: `--name value`, `--name=value`,
// repeatable and comma-separated lists, and typed numbers with a clear usage error.
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  /** 'flag' takes no value. */
  type: 'string' | 'number' | 'int' | 'flag' | 'list';
}

export type ParsedFlags = Record<string, string | number | boolean | string[] | undefined> & { _: string[] };

export function parseFlags(argv: readonly string[], spec: Record<string, FlagSpec>): ParsedFlags {
  const out: ParsedFlags = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      out._.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type === 'flag') {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    value = value.trim();
    if (s.type === 'string') out[name] = value;
    else if (s.type === 'list') out[name] = [...((out[name] as string[] | undefined) ?? []), ...value.split(',').map((v) => v.trim()).filter(Boolean)];
    else {
      const n = Number(value);
      if (value === '' || !Number.isFinite(n) || (s.type === 'int' && !Number.isInteger(n))) {
        throw new UsageError(`--${name} must be ${s.type === 'int' ? 'an integer' : 'a number'}, got "${value}"`);
      }
      out[name] = n;
    }
  }
  return out;
}

export function numberInRange(v: unknown, name: string, min: number, max: number, inclusiveMin = true): number | undefined {
  if (v === undefined) return undefined;
  const n = v as number;
  if (n > max || n < min || (!inclusiveMin && n === min)) throw new UsageError(`--${name} must be in ${inclusiveMin ? '[' : '('}${min}, ${max}], got ${n}`);
  return n;
}

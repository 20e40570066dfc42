// What every CLI command receives: where the data lives and how to print (JSON lines or text).
export interface CliContext {
  dataDir: string;
  json: boolean;
  print(obj: unknown): void;
  printError(obj: unknown): void;
}

export function createCliContext(dataDir: string, json: boolean): CliContext {
  const text = (obj: unknown) => (typeof obj === 'string' ? obj : JSON.stringify(obj, null, json ? 0 : 2));
  return {
    dataDir,
    json,
    print: (obj) => process.stdout.write((json ? JSON.stringify(obj) : text(obj)) + '\n'),
    printError: (obj) => process.stderr.write((json ? JSON.stringify(obj) : text(obj)) + '\n'),
  };
}

/** Splits the global options (--data-dir, --json, --help) from a command's own arguments. */
export function parseGlobalOptions(argv: string[]): {
  dataDir?: string;
  json: boolean;
  help: boolean;
  rest: string[];
  error?: string;
} {
  const rest: string[] = [];
  let dataDir: string | undefined;
  let json = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') help = true;
    else if (a === '--data-dir') {
      dataDir = argv[++i];
      if (!dataDir) return { json, help, rest, error: '--data-dir needs a folder path' };
    } else if (a.startsWith('--data-dir=')) dataDir = a.slice('--data-dir='.length);
    else rest.push(a);
  }
  return { dataDir, json, help, rest };
}

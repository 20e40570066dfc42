// `npm run cli -- <command>`: the scriptable face of the same services the app uses.
import { createCliContext, parseGlobalOptions } from './cli-context';
import { defaultDataDir, ensureDataDir } from '../services/app/data-dir';
import { cliCommands } from './cli-commands';

const commands = cliCommands;

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    'Usage: npm run cli -- <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Global options:',
    '  --data-dir <dir>  where cases, models and caches live (default: the platform application-data folder)',
    '  --json            print JSON lines',
    '  --help            this text',
  ].join('\n');
}

export async function runCli(argv: string[]): Promise<number> {
  const opts = parseGlobalOptions(argv);
  if (opts.error) {
    process.stderr.write(`${opts.error}\n`);
    return 2;
  }
  const [name, ...args] = opts.rest;
  if (!name || (opts.help && !commands[name])) {
    process.stdout.write(usage() + '\n');
    return name || opts.help ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`Unknown command "${name}".\n\n${usage()}\n`);
    return 2;
  }
  if (opts.help) args.push('--help');
  let dataDir: string;
  try {
    dataDir = ensureDataDir(opts.dataDir ?? defaultDataDir());
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  return command.run(args, createCliContext(dataDir, opts.json));
}



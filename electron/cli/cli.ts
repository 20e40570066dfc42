// `npm run cli -- <command>`: the scriptable face of the same services the app uses.
import { createCliContext, parseGlobalOptions, type CliContext } from './cli-context';
import { defaultDataDir, ensureDataDir } from '../services/app/data-dir';
import { createApiServices } from '../services/api-handlers';

type Command = { summary: string; run(args: string[], ctx: CliContext): Promise<number> };

const commands: Record<string, Command> = {
  info: {
    summary: 'print version, onnxruntime execution providers and data directory as JSON',
    async run(_args, ctx) {
      const services = createApiServices({ dataDir: ctx.dataDir });
      try {
        const info = await services.handlers['app.info']({});
        process.stdout.write(JSON.stringify(info, null, ctx.json ? 0 : 2) + '\n');
        return 0;
      } finally {
        await services.dispose();
      }
    },
  },
};

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

export function registerCommand(name: string, command: Command): void {
  commands[name] = command;
}


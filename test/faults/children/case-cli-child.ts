// Run as its own process by the kill -9 tests: `node --import tsx case-cli-child.ts <dataDir> <case args...>`,
// one `case` subcommand through the CLI's own entry, until the test kills it.
import { runCaseCommand } from '../../../electron/cli/case-command';

const [dataDir, ...argv] = process.argv.slice(2);
const code = await runCaseCommand([...argv, '--actor', 'kill-test'], {
  dataDir,
  json: true,
  print: (obj) => process.stdout.write(JSON.stringify(obj) + '\n'),
  printError: (obj) => process.stderr.write(JSON.stringify(obj) + '\n'),
});
process.exitCode = code;

// Run as its own process by the kill -9 tests: `node --import tsx case-cli-child.ts <dataDir> <case args...>`,
// one `case` subcommand through the CLI's own command table (detector wired in), until the test kills it.
import { cliCommands } from '../../../electron/cli/cli-commands';

const [dataDir, ...argv] = process.argv.slice(2);
const code = await cliCommands.case.run([...argv, '--actor', 'kill-test'], {
  dataDir,
  json: true,
  print: (obj) => process.stdout.write(JSON.stringify(obj) + '\n'),
  printError: (obj) => process.stderr.write(JSON.stringify(obj) + '\n'),
});
process.exitCode = code;

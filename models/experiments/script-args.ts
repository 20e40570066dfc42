// The experiment scripts' command line: `--name value` options and `--flag` switches.
export const args = process.argv.slice(2);

export function opt(name: string): string | undefined;
export function opt(name: string, fallback: string): string;
export function opt(name: string, fallback?: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}

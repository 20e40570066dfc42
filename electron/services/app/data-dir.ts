import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';

export const APP_DIR_NAME = 'ai-image-forensics';

/** The platform's application-data folder, as Electron's app.getPath('userData') would choose it. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.FORENSICS_DATA_DIR) return path.resolve(env.FORENSICS_DATA_DIR);
  const home = os.homedir();
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), APP_DIR_NAME);
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', APP_DIR_NAME);
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), APP_DIR_NAME);
}

/** Resolves and creates the data directory; refuses a path that exists but is not a directory. */
export function ensureDataDir(dir: string): string {
  const resolved = path.resolve(dir);
  if (fs.existsSync(resolved) && !fs.statSync(resolved).isDirectory()) {
    throw new Error(`The data directory ${resolved} exists but is not a directory.`);
  }
  fs.mkdirSync(resolved, { recursive: true });
  return resolved;
}

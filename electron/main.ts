// Thin: creates the window with a locked-down renderer and hands the API to the services.
import { app, BrowserWindow, ipcMain, session, shell } from 'electron';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createApiServices } from './services/api-handlers';
import { parseGlobalOptions } from './cli/cli-context';
import { registerIpcHandlers } from './ipc/register-ipc-handlers';
import { CONTENT_SECURITY_POLICY } from './server/http-server';
import { denyAllPermissions, hardenApp } from './app-hardening';

const opts = parseGlobalOptions(process.argv.slice(app.isPackaged ? 1 : 2));
const here = path.dirname(fileURLToPath(import.meta.url));
const rendererIndex = path.join(here, '..', 'renderer', 'index.html');
const rendererIndexUrl = pathToFileURL(rendererIndex).toString();

app.enableSandbox();
// Before any window: every web contents (this window, devtools, anything later) gets the same guard.
hardenApp(app, rendererIndexUrl, (url) => void shell.openExternal(url));
app.whenReady().then(() => {
  const services = createApiServices({ dataDir: opts.dataDir ?? app.getPath('userData') });
  session.defaultSession.webRequest.onHeadersReceived((details, callback) =>
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } }),
  );
  denyAllPermissions(session.defaultSession);

  const win = new BrowserWindow({
    width: 1280,
    height: 840,
    webPreferences: {
      preload: path.join(here, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      webviewTag: false,
    },
  });
  registerIpcHandlers(ipcMain, services, rendererIndexUrl, () => BrowserWindow.getAllWindows().map((w) => w.webContents));
  void win.loadURL(rendererIndexUrl);

  app.on('window-all-closed', async () => {
    await services.dispose();
    app.quit();
  });
});

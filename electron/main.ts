// Thin: creates the window with a locked-down renderer and hands the API to the services.
import { app, BrowserWindow, ipcMain, session, shell } from 'electron';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createApiServices } from './services/api-handlers';
import { parseGlobalOptions } from './cli/cli-context';
import { registerIpcHandlers } from './ipc/register-ipc-handlers';
import { CONTENT_SECURITY_POLICY } from './server/http-server';

const opts = parseGlobalOptions(process.argv.slice(app.isPackaged ? 1 : 2));
const here = path.dirname(fileURLToPath(import.meta.url));
const rendererIndex = path.join(here, '..', 'renderer', 'index.html');
const rendererIndexUrl = pathToFileURL(rendererIndex).toString();

app.enableSandbox();
app.whenReady().then(() => {
  const services = createApiServices({ dataDir: opts.dataDir ?? app.getPath('userData') });
  session.defaultSession.webRequest.onHeadersReceived((details, callback) =>
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } }),
  );
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));

  const win = new BrowserWindow({
    width: 1280,
    height: 840,
    webPreferences: {
      preload: path.join(here, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  });
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  registerIpcHandlers(ipcMain, services, rendererIndexUrl, () => BrowserWindow.getAllWindows().map((w) => w.webContents));
  void win.loadURL(rendererIndexUrl);

  app.on('window-all-closed', async () => {
    await services.dispose();
    app.quit();
  });
});

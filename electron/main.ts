// Thin: creates the window with a locked-down renderer and hands the API to the services; adds the
// desktop shell's menus, native dialogs (through the API), one instance, and the remembered window.
import { app, BrowserWindow, dialog, ipcMain, Menu, session, shell, type MenuItemConstructorOptions } from 'electron';
import fs from 'node:fs';
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

interface WindowState {
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized?: boolean;
}

function readWindowState(file: string): WindowState {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as WindowState;
    if (Number.isFinite(s.width) && Number.isFinite(s.height) && s.width >= 800 && s.height >= 600) return s;
  } catch {
    // First start, or a damaged file: the default size.
  }
  return { width: 1440, height: 900 };
}

function writeWindowState(file: string, win: BrowserWindow): void {
  const b = win.getNormalBounds();
  const state: WindowState = { x: b.x, y: b.y, width: b.width, height: b.height, maximized: win.isMaximized() };
  const temp = `${file}.part`;
  fs.writeFileSync(temp, JSON.stringify(state));
  fs.renameSync(temp, file);
}

// One instance: a second launch focuses the first window instead of opening the same case store twice.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.enableSandbox();
  // Before any window: every web contents (this window, devtools, anything later) gets the same guard.
  hardenApp(app, rendererIndexUrl, (url) => void shell.openExternal(url));
  app.whenReady().then(() => {
    const stateFile = path.join(app.getPath('userData'), 'window-state.json');
    const state = readWindowState(stateFile);
    session.defaultSession.webRequest.onHeadersReceived((details, callback) =>
      callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } }),
    );
    denyAllPermissions(session.defaultSession);

    const win = new BrowserWindow({
      x: state.x,
      y: state.y,
      width: state.width,
      height: state.height,
      backgroundColor: '#15181d',
      webPreferences: {
        preload: path.join(here, 'preload.cjs'),
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        webSecurity: true,
        webviewTag: false,
      },
    });
    const services = createApiServices({
      dataDir: opts.dataDir ?? app.getPath('userData'),
      nativeShell: {
        async openEvidenceDialog() {
          // Linux and Windows cannot offer files and folders in one dialog; there it offers folders.
          const options: Electron.OpenDialogOptions = {
            title: 'Import evidence',
            properties: ['openFile', 'openDirectory', 'multiSelections'],
            filters: [{ name: 'Images', extensions: ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif'] }],
          };
          const result = await dialog.showOpenDialog(win, options);
          return result.canceled ? [] : result.filePaths;
        },
      },
    });
    if (state.maximized) win.maximize();
    win.on('close', () => writeWindowState(stateFile, win));
    registerIpcHandlers(ipcMain, services, rendererIndexUrl, () => BrowserWindow.getAllWindows().map((w) => w.webContents));
    void win.loadURL(rendererIndexUrl);

    // Menu items the renderer acts on arrive as a keyboard-free command event.
    const command = (name: string) => () => win.webContents.send('forensic-shell:command', name);
    const template: MenuItemConstructorOptions[] = [
      {
        label: 'File',
        submenu: [
          { label: 'New case', accelerator: 'CmdOrCtrl+N', click: command('new-case') },
          { label: 'Import…', accelerator: 'CmdOrCtrl+I', click: command('import') },
          { label: 'Export report…', accelerator: 'CmdOrCtrl+E', click: command('export-report') },
          { type: 'separator' },
          { role: 'quit' },
        ],
      },
      { label: 'View', submenu: [{ role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }] },
      {
        label: 'Help',
        submenu: [
          { label: 'Keyboard shortcuts', accelerator: 'F1', click: command('shortcuts') },
          { label: 'About', click: () => void dialog.showMessageBox({ message: `${app.getName()} ${app.getVersion()}`, detail: 'Offline forensic workstation.' }) },
        ],
      },
    ];
    Menu.setApplicationMenu(Menu.buildFromTemplate(template));

    app.on('second-instance', () => {
      if (win.isMinimized()) win.restore();
      win.focus();
    });
    app.on('window-all-closed', async () => {
      await services.dispose();
      app.quit();
    });
  });
}

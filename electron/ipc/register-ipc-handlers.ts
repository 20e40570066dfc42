import type { IpcMain, WebContents } from 'electron';
import { validateApiRequest } from '../shared/validate-request';
import { invokeHandler, type ApiServices } from '../services/api-handlers';
import { IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL } from './ipc-channels';
import { isTrustedSenderUrl } from './trusted-sender';

/** Electron transport: one invoke channel carrying (method, payload), validated like the HTTP one. */
export function registerIpcHandlers(ipcMain: IpcMain, services: ApiServices, rendererIndexUrl: string, windows: () => WebContents[]) {
  ipcMain.handle(IPC_CALL_CHANNEL, async (event, method: unknown, payload: unknown) => {
    if (!event.senderFrame || !isTrustedSenderUrl(event.senderFrame.url, rendererIndexUrl)) {
      return { ok: false, error: { code: 'FORBIDDEN_ORIGIN', message: 'IPC from an untrusted frame was refused.' } };
    }
    // A method name is a string; anything else is refused, not coerced.
    if (typeof method !== 'string') return { ok: false, error: { code: 'UNKNOWN_METHOD', message: 'The API method must be a string.' } };
    const checked = validateApiRequest(method, payload);
    if (!checked.ok) return checked;
    return invokeHandler(services, checked.method, checked.request);
  });
  const off = services.onEvent((e) => windows().forEach((w) => w.send(IPC_EVENT_CHANNEL, e)));
  return () => {
    off();
    ipcMain.removeHandler(IPC_CALL_CHANNEL);
  };
}

// Thin: exposes the typed API client to the isolated renderer and nothing else.
import { contextBridge, ipcRenderer } from 'electron';
import type { ApiEvent, ApiResult, ForensicApiClient } from './shared/api-contract';
import { IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL } from './ipc/ipc-channels';

const client: ForensicApiClient = {
  transport: 'electron',
  async call(method, request) {
    const result = (await ipcRenderer.invoke(IPC_CALL_CHANNEL, method, request)) as ApiResult<never>;
    // Errors cross the context bridge as plain objects: code and details ride along as properties.
    if (!result.ok) throw Object.assign(new Error(result.error.message), { code: result.error.code, details: result.error.details });
    return result.value;
  },
  onEvent(listener) {
    const handler = (_e: unknown, event: ApiEvent) => listener(event);
    ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
    return () => ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler);
  },
};

contextBridge.exposeInMainWorld('forensicApi', client);

// Menu commands (File → New case, Import…, Help → Keyboard shortcuts), re-dispatched as a DOM event.
ipcRenderer.on('forensic-shell:command', (_e, name: string) => window.dispatchEvent(new CustomEvent('forensic-command', { detail: name })));

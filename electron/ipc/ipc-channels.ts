// Channel names shared by main.ts and preload.ts; the method name travels inside the payload.
export const IPC_CALL_CHANNEL = 'forensic-api:call';
export const IPC_EVENT_CHANNEL = 'forensic-api:event';

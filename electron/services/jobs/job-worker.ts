// Worker-thread entry: runs one task and streams progress back to the JobManager.
import { parentPort, workerData } from 'node:worker_threads';
import { jobTasks } from './job-tasks';

const controller = new AbortController();
// This listener keeps the worker alive; the port is closed once the task has answered, so the thread
// (its isolate, its native sessions and their thread pools) ends with the job instead of idling forever.
parentPort!.on('message', (msg: { type: string }) => {
  if (msg.type === 'cancel') controller.abort();
});

const { kind, payload } = workerData as { kind: string; payload: unknown };
const task = jobTasks[kind];
let lastPost = 0;
try {
  if (!task) throw Object.assign(new Error(`No task named ${kind}`), { code: 'UNKNOWN_TASK' });
  const result = await task(payload, {
    signal: controller.signal,
    progress(done, total, message, detail) {
      const now = Date.now();
      // Throttle so a fast task does not flood the event stream; always send the last step.
      if (now - lastPost < 50 && done !== total && !detail) return;
      lastPost = now;
      parentPort!.postMessage({ type: 'progress', done, total, message, detail });
    },
  });
  parentPort!.postMessage(controller.signal.aborted ? { type: 'cancelled' } : { type: 'done', result });
} catch (e) {
  const err = e as Error & { code?: string };
  if (controller.signal.aborted) parentPort!.postMessage({ type: 'cancelled' });
  else parentPort!.postMessage({ type: 'failed', error: { code: err.code ?? 'TASK_FAILED', message: err.message } });
}
parentPort!.close();

import { readableError } from '../api/error-text';

/** One sentence for people, the technical detail one click away. */
export function ErrorMessage({ error, testId }: { error: unknown; testId?: string }) {
  if (error === null || error === undefined) return null;
  const { sentence, detail } = typeof error === 'string' ? { sentence: error, detail: undefined } : readableError(error);
  return (
    <div role="alert" className="error" data-testid={testId}>
      <span>{sentence}</span>
      {detail && detail !== sentence && (
        <details>
          <summary>Technical detail</summary>
          <pre>{detail}</pre>
        </details>
      )}
    </div>
  );
}

export function ProgressBar({ label, done, total, testId }: { label: string; done: number; total: number | null; testId?: string }) {
  return (
    <div className="progress" data-testid={testId}>
      <progress aria-label={label} max={total ?? undefined} value={total ? done : undefined} />
      <span>
        {label}: {done}
        {total !== null ? ` of ${total}` : ''}
      </span>
    </div>
  );
}

import { useEffect, useRef } from 'react';

export const SHORTCUTS: Array<[string, string]> = [
  ['← → ↑ ↓', 'Move between evidence items in the grid'],
  ['Enter', 'Open the focused item in the viewer'],
  ['Space', 'Select or deselect the focused item'],
  ['1 – 6', 'Focus a viewer panel (1 original, 2–6 the explanations)'],
  ['+ / −', 'Zoom in / out in the viewer'],
  ['0', 'Fit the image to the panels'],
  ['Esc', 'Close the viewer or this help'],
  ['?', 'Show this help'],
];

export function ShortcutHelp({ onClose }: { onClose(): void }) {
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => close.current?.focus(), []);
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-labelledby="shortcuts-title" onClick={onClose}>
      <div className="dialog" onClick={(e) => e.stopPropagation()}>
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <dl className="facts">
          {SHORTCUTS.map(([k, v]) => (
            <div key={k} style={{ display: 'contents' }}>
              <dt>
                <kbd>{k}</kbd>
              </dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
        <button ref={close} onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}

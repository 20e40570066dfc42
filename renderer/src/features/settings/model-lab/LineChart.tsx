import { useEffect, useId, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
  dash?: number[];
  width?: number;
  /** Draw a dot at every value (epoch curves). */
  points?: boolean;
  /** Bridge gaps (series sampled on fewer x values than the chart, e.g. per epoch among batches). */
  spanGaps?: boolean;
}

export interface ChartMarker {
  x: number;
  y: number;
  label: string;
}

/**
 * A uPlot line chart on a dark panel, with a text alternative: `description` is read as the figure's
 * description, and `table` (usually a few rows of the data) sits in a disclosure under it.
 */
export function LineChart(props: {
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  ys: Array<Array<number | null>>;
  series: ChartSeries[];
  xRange?: [number, number];
  /** Ticks on whole numbers only (epochs): uPlot would otherwise label 0.25, 0.5, … on short runs. */
  integerX?: boolean;
  yRange?: [number, number];
  marker?: ChartMarker | null;
  height?: number;
  testId?: string;
  description: string;
  table?: ReactNode;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const marker = useRef<ChartMarker | null | undefined>(props.marker);
  marker.current = props.marker;
  const descId = useId();
  const titleId = useId();
  const configKey = JSON.stringify([props.series, props.xRange, props.yRange, props.xLabel, props.yLabel, props.height, props.integerX]);

  useEffect(() => {
    if (!host.current) return;
    const axis = { stroke: '#c8d1dc', grid: { stroke: 'rgba(255,255,255,0.10)', width: 1 }, ticks: { stroke: 'rgba(255,255,255,0.25)', width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(320, host.current.clientWidth || 520),
      height: props.height ?? 260,
      scales: {
        x: { time: false, ...(props.xRange ? { range: props.xRange } : {}) },
        y: props.yRange ? { range: props.yRange } : { auto: true },
      },
      axes: [
        { ...axis, label: props.xLabel, labelSize: 20, ...(props.integerX ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : {}) },
        { ...axis, label: props.yLabel, labelSize: 20, size: 56 },
      ],
      legend: { show: true, live: false },
      cursor: { points: { size: 6 } },
      series: [
        { label: props.xLabel },
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 2,
          dash: s.dash,
          spanGaps: s.spanGaps ?? false,
          points: { show: s.points ?? false, size: 6, fill: s.color, stroke: s.color },
        })),
      ],
      hooks: {
        draw: [
          (u) => {
            const m = marker.current;
            if (!m) return;
            const cx = u.valToPos(m.x, 'x', true);
            const cy = u.valToPos(m.y, 'y', true);
            const ctx = u.ctx;
            const r = 6 * devicePixelRatio;
            ctx.save();
            // A dashed series (chance line) leaves its dash on the context.
            ctx.setLineDash([]);
            ctx.strokeStyle = '#ffd166';
            ctx.fillStyle = '#ffd166';
            ctx.lineWidth = 2 * devicePixelRatio;
            ctx.beginPath();
            ctx.arc(cx, cy, r, 0, 2 * Math.PI);
            ctx.stroke();
            ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
            const right = cx + 10 * devicePixelRatio + ctx.measureText(m.label).width < u.bbox.left + u.bbox.width;
            ctx.textAlign = right ? 'left' : 'right';
            ctx.fillText(m.label, cx + (right ? 10 : -10) * devicePixelRatio, cy - 8 * devicePixelRatio);
            ctx.restore();
          },
        ],
      },
    };
    plot.current = new uPlot(opts, [props.x, ...props.ys] as uPlot.AlignedData, host.current);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the chart's shape changes; data changes go through setData below.
  }, [configKey]);

  useEffect(() => {
    plot.current?.setData([props.x, ...props.ys] as uPlot.AlignedData);
  }, [props.x, props.ys]);

  useEffect(() => {
    plot.current?.redraw(false);
  }, [props.marker?.x, props.marker?.y, props.marker?.label]);

  return (
    <figure className="lab-chart" aria-labelledby={titleId} aria-describedby={descId} data-testid={props.testId} data-points={props.x.length}>
      <figcaption id={titleId}>{props.title}</figcaption>
      <div ref={host} className="lab-chart-canvas" aria-hidden="true" />
      <p id={descId} className="lab-chart-description">
        {props.description}
      </p>
      {props.table && (
        <details>
          <summary>Data as a table</summary>
          {props.table}
        </details>
      )}
    </figure>
  );
}

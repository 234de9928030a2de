// A small SVG chart writer for the benchmark reports: line charts and stacked bar charts,
// plain strings with no dependency, so a report can be opened in any browser or embedded
// in a README. Everything is laid out in a fixed 720 x 420 viewBox; the browser scales it.

export interface Series {
  name: string;
  points: [number, number][];
  /** Drawn dashed and without markers: a reference such as the ideal speedup. */
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** x positions to label; default: every x in the data when there are few, else round numbers. */
  xTicks?: number[];
  /** A logarithmic x axis, for series whose x spans decades (seconds of systems 20x apart); points at x <= 0 are left out. */
  xLog?: boolean;
  /** The bottom of the y axis (default 0), to spread out values that sit in a narrow band near the top; points below it are left out. */
  yMin?: number;
}

export interface BarSegment {
  name: string;
  /** One value per category; negative values are drawn as zero. */
  values: number[];
}

export interface StackedBarChart {
  title: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  segments: BarSegment[];
}

const W = 720;
const H = 420;
const M = { left: 70, right: 200, top: 44, bottom: 56 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f', '#bcbd22', '#e377c2'];

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Tick spacing of 1, 2 or 5 times a power of ten, giving about `count` intervals up to max. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

function fmt(v: number): string {
  return Number(v.toPrecision(6)).toString();
}

const r1 = (v: number): string => (Math.round(v * 10) / 10).toString();

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${r1(x)}" y="${r1(y)}"${attrs ? ' ' + attrs : ''}>${escapeXml(s)}</text>`;
}

/** Frame, title, axis labels, horizontal grid and y tick labels for a y range [yMin, yMax]. */
function frame(title: string, xLabel: string, yLabel: string, yMax: number, yStep: number, yMin = 0): string[] {
  const out = [
    `<rect width="${W}" height="${H}" fill="white"/>`,
    text(W / 2 - M.right / 2 + M.left / 2, 26, title, 'text-anchor="middle" font-size="16" font-weight="bold"'),
    text(M.left + PW / 2, H - 14, xLabel, 'text-anchor="middle" font-size="13"'),
    text(18, M.top + PH / 2, yLabel, `text-anchor="middle" font-size="13" transform="rotate(-90 18 ${r1(M.top + PH / 2)})"`),
  ];
  for (let i = 0; yMin + i * yStep <= yMax + yStep / 1e6; i++) {
    // Counted, not summed: 90 + 0.5 + 0.5 ... drifts off the round labels.
    const v = yMin + i * yStep;
    const y = M.top + PH - ((v - yMin) / (yMax - yMin)) * PH;
    out.push(`<line x1="${M.left}" y1="${r1(y)}" x2="${M.left + PW}" y2="${r1(y)}" stroke="#ddd"/>`);
    out.push(text(M.left - 6, y + 4, fmt(v), 'text-anchor="end" font-size="11"'));
  }
  out.push(`<line x1="${M.left}" y1="${M.top + PH}" x2="${M.left + PW}" y2="${M.top + PH}" stroke="black"/>`);
  out.push(`<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + PH}" stroke="black"/>`);
  return out;
}

function legend(entries: { name: string; color: string; kind: 'line' | 'dash' | 'box' }[]): string[] {
  const x = M.left + PW + 16;
  return entries.flatMap((e, i) => {
    const y = M.top + 10 + i * 20;
    const mark =
      e.kind === 'box'
        ? `<rect x="${x}" y="${y - 9}" width="18" height="12" fill="${e.color}"/>`
        : `<line x1="${x}" y1="${y - 3}" x2="${x + 18}" y2="${y - 3}" stroke="${e.color}" stroke-width="2"${e.kind === 'dash' ? ' stroke-dasharray="6 4"' : ''}/>`;
    return [mark, text(x + 24, y + 1, e.name, 'font-size="12"')];
  });
}

function wrap(title: string, body: string[]): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n` +
    `<title>${escapeXml(title)}</title>\n` +
    body.join('\n') +
    '\n</svg>\n'
  );
}

function xTicksFor(xs: number[], xMin: number, xMax: number): number[] {
  const distinct = [...new Set(xs)].sort((a, b) => a - b);
  if (distinct.length <= 12) return distinct;
  const step = niceStep(xMax - xMin);
  const ticks: number[] = [];
  for (let v = Math.ceil(xMin / step) * step; v <= xMax + step / 1e6; v += step) ticks.push(v);
  return ticks;
}

/** 1, 2 and 5 times the powers of ten from xMin to xMax, for a log axis (only the powers when they are many). */
function logTicks(xMin: number, xMax: number): number[] {
  const ticks: number[] = [];
  const [lo, hi] = [Math.floor(Math.log10(xMin)), Math.ceil(Math.log10(xMax))];
  const mantissas = hi - lo > 4 ? [1] : [1, 2, 5];
  for (let e = lo; e <= hi; e++) for (const m of mantissas) ticks.push(Number((m * 10 ** e).toPrecision(6)));
  const inside = ticks.filter((t) => t >= xMin * (1 - 1e-9) && t <= xMax * (1 + 1e-9));
  // A range inside one step of 1-2-5 still gets its two ends.
  return inside.length >= 2 ? inside : [Number(xMin.toPrecision(2)), Number(xMax.toPrecision(2))];
}

export function lineChart(c: LineChart): string {
  const yMin = c.yMin ?? 0;
  // A point without a y value (NaN) is not drawn but still spans the x axis.
  const kept = (p: [number, number]): boolean => !(p[1] < yMin) && (!c.xLog || p[0] > 0);
  const series = c.series.map((s) => ({ ...s, points: s.points.filter(kept) }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const xMin = xs.length ? Math.min(...xs) : c.xLog ? 1 : 0;
  const xMax = xs.length && Math.max(...xs) > xMin ? Math.max(...xs) : c.xLog ? xMin * 10 : xMin + 1;
  const yStep = niceStep(Math.max(...ys, yMin) - yMin);
  const yMax = yMin + Math.max(yStep, Math.ceil((Math.max(...ys, yMin) - yMin) / yStep) * yStep);
  const fx = c.xLog ? Math.log10 : (x: number): number => x;
  const px = (x: number): number => M.left + ((fx(x) - fx(xMin)) / (fx(xMax) - fx(xMin))) * PW;
  const py = (y: number): number => M.top + PH - ((y - yMin) / (yMax - yMin)) * PH;
  const out = frame(c.title, c.xLabel, c.yLabel, yMax, yStep, yMin);
  for (const x of c.xTicks ?? (c.xLog ? logTicks(xMin, xMax) : xTicksFor(xs, xMin, xMax))) {
    out.push(`<line x1="${r1(px(x))}" y1="${M.top + PH}" x2="${r1(px(x))}" y2="${M.top + PH + 5}" stroke="black"/>`);
    out.push(text(px(x), M.top + PH + 18, fmt(x), 'text-anchor="middle" font-size="11"'));
  }
  series.forEach((s, i) => {
    const color = s.dashed ? '#555' : COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1])).map(([x, y]) => `${r1(px(x))},${r1(py(y))}`);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    if (!s.dashed) for (const p of pts) out.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3.5" fill="${color}"/>`);
  });
  out.push(...legend(c.series.map((s, i) => ({ name: s.name, color: s.dashed ? '#555' : COLORS[i % COLORS.length], kind: s.dashed ? 'dash' : 'line' }))));
  return wrap(c.title, out);
}

export function stackedBarChart(c: StackedBarChart): string {
  const totals = c.categories.map((_, i) => c.segments.reduce((t, s) => t + Math.max(0, s.values[i] ?? 0), 0));
  const top = Math.max(...totals, 0);
  const yStep = niceStep(top);
  const yMax = Math.max(yStep, Math.ceil(top / yStep) * yStep);
  const py = (y: number): number => M.top + PH - (y / yMax) * PH;
  const out = frame(c.title, c.xLabel, c.yLabel, yMax, yStep);
  const slot = PW / Math.max(1, c.categories.length);
  const bw = Math.min(80, slot * 0.6);
  c.categories.forEach((name, i) => {
    const x = M.left + slot * i + (slot - bw) / 2;
    let base = 0;
    c.segments.forEach((s, k) => {
      const v = Math.max(0, s.values[i] ?? 0);
      out.push(`<rect x="${r1(x)}" y="${r1(py(base + v))}" width="${r1(bw)}" height="${r1(py(base) - py(base + v))}" fill="${COLORS[k % COLORS.length]}"><title>${escapeXml(`${name}: ${s.name} ${fmt(v)}`)}</title></rect>`);
      base += v;
    });
    out.push(text(x + bw / 2, py(base) - 5, fmt(Number(totals[i].toPrecision(3))), 'text-anchor="middle" font-size="11"'));
    out.push(text(x + bw / 2, M.top + PH + 18, name, 'text-anchor="middle" font-size="12"'));
  });
  // Listed top to bottom in the order the segments are stacked, top segment first.
  out.push(...legend(c.segments.map((s, k) => ({ name: s.name, color: COLORS[k % COLORS.length], kind: 'box' as const })).reverse()));
  return wrap(c.title, out);
}

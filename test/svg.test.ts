// The chart writer must produce well-formed SVG whose marks sit where the data says.
import { describe, expect, it } from 'vitest';
import { escapeXml, lineChart, niceStep, stackedBarChart } from '../src/bench/svg.js';
import { findAll, parseXml } from './xml.js';

describe('the test XML reader', () => {
  it('accepts well-formed XML and rejects what a browser would refuse', () => {
    const ok = parseXml('<?xml version="1.0"?>\n<a x="1 &amp; 2"><b/><c y=\'z\'>t &lt; u</c></a>\n');
    expect(ok.attrs.x).toBe('1 & 2');
    expect(findAll(ok, 'c')[0].text).toBe('t < u');
    for (const bad of ['<a><b></a>', '<a x=1/>', '<a x="1" x="2"/>', '<a>&</a>', '<a>1 < 2</a>', '<a/><b/>', '<a>', '<a>&nbsp;</a>']) {
      expect(() => parseXml(bad), bad).toThrow();
    }
  });
});

describe('svg helpers', () => {
  it('escapes the five XML special characters', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });

  it('picks tick steps of 1, 2 or 5 times a power of ten', () => {
    expect(niceStep(7)).toBe(2);
    expect(niceStep(1.86)).toBe(0.5);
    expect(niceStep(100)).toBe(20);
    expect(niceStep(0)).toBe(1);
  });
});

describe('lineChart', () => {
  const svg = lineChart({
    title: 'Speedup <ts & wasm>',
    xLabel: 'workers',
    yLabel: 'speedup',
    series: [
      { name: 'batch 64', points: [[1, 1], [2, 1.5], [4, 2]] },
      { name: 'batch 256', points: [[1, 1], [2, 1.9], [4, 3.6]] },
      { name: 'ideal', points: [[1, 1], [2, 2], [4, 4]], dashed: true },
    ],
  });
  const root = parseXml(svg);

  it('is an svg document with the escaped title', () => {
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(findAll(root, 'title')[0].text).toBe('Speedup <ts & wasm>');
  });

  it('draws one line per series, markers only on data series, the reference dashed', () => {
    const lines = findAll(root, 'polyline');
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => 'stroke-dasharray' in l.attrs)).toEqual([false, false, true]);
    expect(findAll(root, 'circle')).toHaveLength(6);
    expect(findAll(root, 'text').map((t) => t.text)).toEqual(expect.arrayContaining(['batch 64', 'batch 256', 'ideal', '1', '2', '4']));
  });

  it('places larger values higher and later x further right', () => {
    const pts = (i: number): number[][] => findAll(root, 'polyline')[i].attrs.points.split(' ').map((p) => p.split(',').map(Number));
    const [b64, b256, ideal] = [pts(0), pts(1), pts(2)];
    expect(b64[0]).toEqual(b256[0]); // both start at (1, 1)
    expect(b256[2][1]).toBeLessThan(b64[2][1]); // 3.6 is above 2 (SVG y grows downward)
    expect(ideal[2][1]).toBeLessThan(b256[2][1]);
    expect(b64[1][0]).toBeGreaterThan(b64[0][0]);
    // x is linear in workers: 1 -> 2 is a third of the way from 1 to 4.
    expect((b64[1][0] - b64[0][0]) / (b64[2][0] - b64[0][0])).toBeCloseTo(1 / 3, 2);
  });
});

describe('stackedBarChart', () => {
  const svg = stackedBarChart({
    title: 'Time per step',
    xLabel: 'workers',
    yLabel: 'ms',
    categories: ['1 worker', '2 workers'],
    segments: [
      { name: 'compute', values: [4, 2] },
      { name: 'wait + dispatch', values: [1, 1] },
      { name: 'reduce', values: [0.5, 0.25] },
    ],
  });
  const root = parseXml(svg);
  // Bars are the rects with a tooltip; the others are the background and legend boxes.
  const bars = findAll(root, 'rect').filter((r) => r.children.some((c) => c.name === 'title'));

  it('draws one rect per category and segment, stacked bottom-up in segment order', () => {
    expect(bars).toHaveLength(6);
    const [compute, wait] = [bars[0], bars[1]];
    expect(Number(wait.attrs.y) + Number(wait.attrs.height)).toBeCloseTo(Number(compute.attrs.y), 0);
    expect(findAll(root, 'text').map((t) => t.text)).toEqual(expect.arrayContaining(['5.5', '3.25', '1 worker', '2 workers', 'compute']));
  });

  it('makes heights proportional to values', () => {
    const h = bars.map((b) => Number(b.attrs.height));
    expect(h[0] / h[1]).toBeCloseTo(4, 1); // compute 4 vs wait 1 in the first bar
    expect(h[3] / h[0]).toBeCloseTo(0.5, 1); // compute 2 vs 4 across bars
  });
});

describe('lineChart with a log x axis and a raised y axis', () => {
  const svg = lineChart({
    title: 'Time to accuracy',
    xLabel: 'seconds',
    yLabel: 'accuracy %',
    xLog: true,
    yMin: 90,
    series: [
      { name: 'fast', points: [[0, 10], [1, 95], [10, 97], [100, 98]] },
      { name: 'slow', points: [[2, 50], [20, 90]] },
      { name: 'target', points: [[1, 97], [100, 97]], dashed: true },
    ],
  });
  const root = parseXml(svg);
  const pts = (i: number): number[][] => findAll(root, 'polyline')[i].attrs.points.split(' ').map((p) => p.split(',').map(Number));

  it('leaves out points at x <= 0 and below the y axis', () => {
    expect(pts(0)).toHaveLength(3);
    expect(pts(1)).toHaveLength(1);
    expect(findAll(root, 'circle')).toHaveLength(4);
  });

  it('spaces decades evenly and labels 1, 2 and 5 times each power of ten', () => {
    const [a, b, c] = pts(0);
    expect(c[0] - b[0]).toBeCloseTo(b[0] - a[0], 0);
    // 20 lies log10(2) of the way from 10 to 100.
    expect((pts(1)[0][0] - b[0]) / (c[0] - b[0])).toBeCloseTo(Math.log10(2), 2);
    const labels = findAll(root, 'text').map((t) => t.text);
    expect(labels).toEqual(expect.arrayContaining(['1', '2', '5', '10', '20', '50', '100']));
  });

  it('starts the y axis at yMin: a value there sits on the x axis, the ticks count up from it', () => {
    const axis = findAll(root, 'line').find((l) => l.attrs.x1 === '70' && l.attrs.y1 === l.attrs.y2 && l.attrs.stroke === 'black')!;
    expect(pts(1)[0][1]).toBe(Number(axis.attrs.y1)); // 90, the bottom
    expect(pts(0)[2][1]).toBe(44); // 98, the highest value, at the top of the plot
    expect(pts(2)[0][1]).toBeCloseTo((7 * 44 + Number(axis.attrs.y1)) / 8, 0); // 97: seven eighths of the way up from 90 to 98
    const labels = findAll(root, 'text').map((t) => t.text);
    expect(labels).toEqual(expect.arrayContaining(['90', '92', '94', '96', '98']));
    expect(labels).not.toContain('0');
  });
});

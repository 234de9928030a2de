// Writes a small image data set in EMNIST's file format, to try `threadgrad train --data-dir`
// on something that is not MNIST: 24x16 grayscale images (24 rows of 16 pixels) of five
// shapes (horizontal bar, vertical bar, cross, box, diagonal), drawn at random places and
// sizes with noise; 6,000 for training and 1,000 for testing, gzipped IDX files named as
// EMNIST names them. Uses only Node itself:
//   node examples/make-shapes.mjs shapes && npx threadgrad train --data-dir shapes
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const ROWS = 24;
const COLS = 16;
const SHAPES = ['horizontal bar', 'vertical bar', 'cross', 'box', 'diagonal'];

/** An IDX file of unsigned bytes: magic (0, 0, type 0x08, dimensions), sizes (big-endian), data. */
function idx(dims, bytes) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return gzipSync(Buffer.concat([header, bytes]));
}

function makeSplit(count, seed) {
  let s = seed;
  const random = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
  const images = Buffer.alloc(count * ROWS * COLS);
  const labels = Buffer.alloc(count);
  for (let n = 0; n < count; n++) {
    const label = n % SHAPES.length;
    const image = images.subarray(n * ROWS * COLS, (n + 1) * ROWS * COLS);
    const ink = (r, c) => { if (r >= 0 && r < ROWS && c >= 0 && c < COLS) image[r * COLS + c] = int(160, 255); };
    const size = int(5, 9);
    const top = int(0, ROWS - size - 1);
    const left = int(0, COLS - size - 1);
    for (let i = 0; i <= size; i++) {
      if (label === 0) ink(top + (size >> 1), left + i);
      if (label === 1) ink(top + i, left + (size >> 1));
      if (label === 2) { ink(top + (size >> 1), left + i); ink(top + i, left + (size >> 1)); }
      if (label === 3) { ink(top, left + i); ink(top + size, left + i); ink(top + i, left); ink(top + i, left + size); }
      if (label === 4) ink(top + i, left + i);
    }
    for (let p = 0; p < image.length; p++) if (random() < 0.05) image[p] = Math.max(image[p], int(0, 120));
    labels[n] = label;
  }
  return { images, labels };
}

const dir = process.argv[2] ?? 'shapes';
mkdirSync(dir, { recursive: true });
for (const [name, count, seed] of [['train', 6000, 1], ['test', 1000, 2]]) {
  const { images, labels } = makeSplit(count, seed);
  writeFileSync(join(dir, `emnist-shapes-${name}-images-idx3-ubyte.gz`), idx([count, ROWS, COLS], images));
  writeFileSync(join(dir, `emnist-shapes-${name}-labels-idx1-ubyte.gz`), idx([count], labels));
}
console.log(`wrote ${dir}: ${ROWS}x${COLS} images of ${SHAPES.length} classes (${SHAPES.join(', ')}), 6000 to train and 1000 to test`);

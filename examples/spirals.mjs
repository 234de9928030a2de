// threadgrad as a library, on a data set of your own: three interleaved spirals in the plane
// (2 float features, 3 classes), which no straight line separates. Run it from the
// package folder after `npm run build` (or anywhere threadgrad is installed):
//   node examples/spirals.mjs
import { evaluate, makeDataset, predict, train } from 'threadgrad';

/** n points per class on `classes` spiral arms, with a little noise; `seed` makes them reproducible. */
function spirals(n, classes, seed) {
  let s = seed;
  const random = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const x = new Float32Array(n * classes * 2);
  const labels = new Uint8Array(n * classes);
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < n; i++) {
      const r = i / n;
      const angle = (c * 2 * Math.PI) / classes + 4 * r + 0.2 * (random() - 0.5);
      const k = c * n + i;
      x.set([r * Math.sin(angle), r * Math.cos(angle)], 2 * k);
      labels[k] = c;
    }
  }
  return { x, labels };
}

const data = makeDataset(spirals(2000, 3, 1), spirals(300, 3, 2), { shape: [2] });

const { model, history, test, stop } = await train({
  data,
  hidden: [64, 32],
  optimizer: 'adam',
  lr: 0.01,
  batchSize: 64,
  epochs: 60,
  patience: 8, // stop when the validation loss has not improved for 8 epochs
  workers: 2,
  onEpoch: (e) => {
    if (e.epoch % 10 === 0) console.log(`epoch ${e.epoch}: train loss ${e.loss.toFixed(4)}, validation accuracy ${(100 * e.valAcc).toFixed(1)}%`);
  },
});

console.log(`${stop.reason}; trained ${history.length} epochs`);
console.log(`test accuracy ${(100 * test.accuracy).toFixed(2)}%`);

// The model on its own: the worker pool for many samples, a plain forward pass for a few.
const again = await evaluate(model, data.test);
const { classes, probabilities } = predict(model, [0.5, 0.1, -0.3, -0.4]);
console.log(`evaluate: ${(100 * again.accuracy).toFixed(2)}%; predict (0.5, 0.1) -> class ${classes[0]} (p ${probabilities[classes[0]].toFixed(3)}), (-0.3, -0.4) -> class ${classes[1]}`);

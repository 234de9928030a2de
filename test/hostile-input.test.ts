// What a careless or hostile user does on the real command line: each case ends with one
// clear line and a non-zero exit (2 for usage), before any training where the problem is
// knowable up front, and nothing already saved is lost or overwritten.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCheckpoint, readCheckpoint, writeCheckpoint } from '../src/model/checkpoint.js';
import { DEFAULTS } from '../src/config.js';
import { encodeIdx } from '../src/data/idx.js';
import { head, loadMnist } from '../src/data/dataset.js';
import { train } from '../src/train.js';
import { pngOf } from './png.js';
import { expectOneLineError, runCli, runMain, syntheticData, tempDir, writeDataDir, type CliResult } from './synthetic.js';

const data = syntheticData(320, 80);
const dir = writeDataDir(tempDir(), data);
const good = join(dir, 'good.ckpt');
const small = ['--data-dir', dir, '--hidden', '32,16', '--batch-size', '16'];
const trainArgs = ['train', ...small, '--epochs', '1'];
const file = (name: string, bytes: Uint8Array | string): string => {
  writeFileSync(join(dir, name), bytes);
  return join(dir, name);
};
/** A run that trained logged an epoch record; one refused up front did not. */
const trained = (r: CliResult): boolean => r.stderr.includes('"msg":"epoch"');

beforeAll(async () => {
  await train({ ...DEFAULTS, patience: 0, dataDir: dir, hidden: [32, 16], epochs: 1, batchSize: 16, checkpoint: good }, { data });
});

describe('resume saves to the file it resumed from', () => {
  it('a copy of a checkpoint saves to the copy, and a checkpoint named from another folder to itself', async () => {
    const runs = join(tempDir(), 'runs');
    mkdirSync(runs);
    const orig = join(runs, 'orig.ckpt');
    const copy = join(runs, 'copy.ckpt');
    copyFileSync(good, orig);
    copyFileSync(good, copy);
    const before = readFileSync(orig);
    const elsewhere = tempDir();
    const r = await runCli(['train', '--resume', copy, '--epochs', '2'], { cwd: elsewhere });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(orig).equals(before)).toBe(true);
    expect(readCheckpoint(copy).header.epoch).toBe(3);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('and --checkpoint still sends it elsewhere', async () => {
    const other = join(tempDir(), 'other.ckpt');
    const r = await runCli(['train', '--resume', good, '--epochs', '2', '--checkpoint', other]);
    expect(r.code, r.stderr).toBe(0);
    expect(readCheckpoint(other).header.epoch).toBe(3);
    expect(readCheckpoint(good).header.epoch).toBe(2);
  });
});

describe('output paths are checked before the first step', () => {
  it.each([
    ['a folder', () => dir, /cannot write checkpoint .*: it is a folder; give a file name/],
    ['a new folder (trailing slash)', () => join(tempDir(), 'newdir') + '/', /cannot write checkpoint .*newdir\/: it names a folder/],
    ['a FIFO, which a rename would replace', () => fifo('out.fifo'), /cannot write checkpoint .*out\.fifo: it exists and is not a regular file/],
    ['under /proc, where a recursive mkdir never returns', () => '/proc/nonexist/y.ckpt', /cannot write checkpoint \/proc\/nonexist\/y\.ckpt: cannot create folder \/proc\/nonexist: ENOENT/],
    ['in a folder no one may write (sysfs)', () => '/sys/x.ckpt', /cannot write checkpoint \/sys\/x\.ckpt: EACCES in \/sys/],
  ])('--checkpoint %s', async (_, path, message) => {
    const target = path();
    const r = await runCli([...trainArgs, '--checkpoint', target]);
    expectOneLineError(r, message);
    expect(trained(r)).toBe(false);
    if (target.endsWith('.fifo')) expect(statSync(target).isFIFO()).toBe(true);
  });

  it('--checkpoint naming a file that is no checkpoint (the run\'s own data) is refused and left as it was; an earlier run\'s checkpoint is replaced with a warning', async () => {
    const copy = join(tempDir(), 'images-idx3-ubyte');
    copyFileSync(join(dir, 'train-images-idx3-ubyte'), copy);
    const before = readFileSync(copy);
    const r = await runCli([...trainArgs, '--train-images', copy, '--checkpoint', copy]);
    expectOneLineError(r, /--checkpoint .*images-idx3-ubyte exists and is not a threadgrad checkpoint; saving would replace it: name another file/);
    expect(r.code).toBe(2);
    expect(readFileSync(copy).equals(before)).toBe(true);
    const earlier = join(tempDir(), 'earlier.ckpt');
    copyFileSync(good, earlier);
    const again = await runCli([...trainArgs, '--checkpoint', earlier]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/earlier\.ckpt holds a checkpoint of an earlier run, which this run's saves will replace/);
  });

  it.each([
    [['bench', '--out', '/proc/x', '--workers-list', '1'], /cannot write benchmark results into \/proc\/x: cannot create folder \/proc\/x: ENOENT/],
    [['compare-batching', '--out', good, '--budget', '1'], /cannot write comparison results into .*good\.ckpt: .*good\.ckpt is not a folder/],
  ])('%o', async (args, message) => {
    expectOneLineError(await runMain([...args, ...small.slice(0, 2)]), message);
  });
});

function fifo(name: string): string {
  const path = join(tempDir(), name);
  execFileSync('mkfifo', [path]);
  return path;
}

describe('data that would hang or flood the reader', () => {
  it.each([
    ['a FIFO', () => fifo('images.fifo'), /cannot read IDX file .*images\.fifo: it is not a regular file/],
    ['a device that never ends', () => '/dev/zero', /cannot read IDX file \/dev\/zero: it is not a regular file/],
  ])('--train-images %s is refused at once', async (_, path, message) => {
    expectOneLineError(await runMain([...trainArgs, '--train-images', path()]), message);
  });

  it.each([
    ['no training images', 'train'],
    ['no test images', 't10k'],
  ])('a set with %s is refused, not trained to a meaningless accuracy', async (_, name) => {
    const empty = writeDataDir(tempDir(), data);
    writeFileSync(join(empty, `${name}-images-idx3-ubyte`), encodeIdx([0, 28, 28], new Uint8Array(0)));
    writeFileSync(join(empty, `${name}-labels-idx1-ubyte`), encodeIdx([0], new Uint8Array(0)));
    expectOneLineError(await runMain(['train', '--data-dir', empty, '--hidden', '8']), new RegExp(`${name}-images-idx3-ubyte holds no images`));
  });
});

describe('settings that cannot fit in memory are refused up front, with what they would need', () => {
  it.each([
    [['--hidden', '65536,65536'], /this network \(4,347,133,964 parameters, .*\) with its data needs \d+\.\d GiB of shared memory, more than the 4 GiB WebAssembly can address/],
    [['--hidden', '46341,46341'], /needs \d+\.\d GiB of shared memory, more than the 4 GiB/],
    [['--hidden', '4096,4096', '--chunk', '65536'], /chunks of 65536 samples\) with its data needs 4\.\d GiB of shared memory/],
  ])('train %o', async (args, message) => {
    const path = join(tempDir(), 'keep.ckpt');
    copyFileSync(good, path);
    const before = readFileSync(path);
    const r = await runCli(['train', '--data-dir', dir, '--checkpoint', path, ...args]);
    expectOneLineError(r, message);
    expect(r.code).toBe(2);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('bench bounds its worker counts, and all its pools together, before starting any', async () => {
    expectOneLineError(await runMain(['bench', '--workers-list', '2000']), /--workers-list must be a comma-separated list of integers from 1 to 1024, got "2000"/);
    expectOneLineError(
      await runCli(['bench', '--workers-list', '1000', '--data-dir', dir]),
      /a benchmark of 1, 1000 workers and 999 independent 1-worker copies, every pool alive at once, needs \d+\.\d GiB of memory, more than this machine's/,
      { afterLogs: true },
    );
  });
});

describe('checkpoints', () => {
  it.each([
    [{ workers: 0 }, /saved setting "workers" must be an integer from 1 to 1024, got 0/],
    [{ kernels: 'gpu' }, /saved setting "kernels" must be one of ts, wasm, got "gpu"/],
    [{ hidden: 'x' }, /saved setting "hidden"\[0\] must be an integer/],
  ])('a checkpoint whose settings hold %o is refused on resume and by eval, naming it', async (edit, message) => {
    const ckpt = readCheckpoint(good);
    const path = file(`edited-${Object.keys(edit)[0]}.ckpt`, encodeCheckpoint({ ...ckpt, header: { ...ckpt.header, config: { ...ckpt.header.config, ...edit } } }));
    for (const r of await Promise.all([runCli(['train', '--resume', path]), runCli(['eval', '--checkpoint', path])])) {
      expectOneLineError(r, message);
      expect(r.code).toBe(2);
    }
  });

  it('eval finds the data a run trained on from any folder, though it was named relative to another', async () => {
    const base = tempDir();
    mkdirSync(join(base, 'data'));
    writeDataDir(join(base, 'data'), data);
    const trainedRun = await runCli(['train', '--data-dir', 'data', '--hidden', '16', '--epochs', '1', '--checkpoint', 'runs/a.ckpt'], { cwd: base });
    expect(trainedRun.code, trainedRun.stderr).toBe(0);
    const fromBase = await runCli(['eval', '--checkpoint', 'runs/a.ckpt'], { cwd: base });
    const fromElsewhere = await runCli(['eval', '--checkpoint', join(base, 'runs/a.ckpt')], { cwd: tempDir() });
    expect(fromElsewhere.code, fromElsewhere.stderr).toBe(0);
    const accuracy = (r: CliResult): string => /test accuracy (\S+)/.exec(r.stdout)![1];
    expect(accuracy(fromElsewhere)).toBe(accuracy(fromBase));
    expect(fromElsewhere.stdout).toContain(join(base, 'data'));
  });

  it('a save removes the temp files that saves killed mid-write left behind, and only those', () => {
    const out = tempDir();
    const path = join(out, 'run.ckpt');
    const stale = join(out, '.run.ckpt.999999999.tmp'); // no process has that id
    const live = join(out, `.run.ckpt.${process.ppid}.tmp`); // one that is still running
    const other = join(out, '.other.ckpt.999999999.tmp');
    for (const p of [stale, live, other]) writeFileSync(p, 'half a checkpoint');
    const ckpt = readCheckpoint(good);
    writeCheckpoint(path, ckpt);
    expect(readdirSync(out).sort()).toEqual(['.other.ckpt.999999999.tmp', `.run.ckpt.${process.ppid}.tmp`, 'run.ckpt']);
  });
});

describe('stopping', () => {
  const args = [...trainArgs, '--epochs', '50', '--seed', '3'];
  /** Ctrl-C, once, as soon as the run has begun (a second one would mean "quit now"). */
  const stopOnStart = (): ((text: string, child: { kill: (s: NodeJS.Signals) => boolean }) => void) => {
    let sent = false;
    return (text, child) => {
      if (!sent && text.includes('"msg":"training"')) sent = child.kill('SIGINT');
    };
  };

  it('a second interrupted run does not overwrite the first one\'s rescue file; Ctrl-C is no "error"', async () => {
    const cwd = tempDir();
    const first = await runCli(args, { cwd, onStderr: stopOnStart() });
    const second = await runCli(args, { cwd, onStderr: stopOnStart() });
    expect([first.code, second.code]).toEqual([130, 130]);
    expect(first.stderr.trim().split('\n').pop()).toMatch(/^threadgrad: stopped by SIGINT at .*; saved a checkpoint to threadgrad-interrupted\.ckpt; resume with: /);
    expect(second.stderr.trim().split('\n').pop()).toMatch(/^threadgrad: stopped by SIGINT at .*; saved a checkpoint to threadgrad-interrupted-2\.ckpt; resume with: /);
    expect(readdirSync(cwd).sort()).toEqual(['threadgrad-interrupted-2.ckpt', 'threadgrad-interrupted.ckpt']);
  });

  it('where the working folder cannot be written, Ctrl-C saves to the temp folder and still exits 130', async () => {
    const tmp = tempDir();
    const r = await runCli(args, { cwd: '/sys', env: { TMPDIR: tmp }, onStderr: stopOnStart() });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr.trim().split('\n').pop()).toMatch(new RegExp(`saved a checkpoint to ${tmp}/threadgrad-interrupted\\.ckpt; resume with: `));
    expect(existsSync(join(tmp, 'threadgrad-interrupted.ckpt'))).toBe(true);
  });
});

describe('the short last batch (--drop-last)', () => {
  it('with --drop-last the result no longer swings on N mod batch; without it, the last step takes the leftover samples', async () => {
    const mnist = await loadMnist();
    const accuracy = async (n: number, dropLast: boolean): Promise<number> => {
      const result = await train({ ...DEFAULTS, patience: 0, epochs: 1, dropLast }, { data: { ...mnist, train: head(mnist.train, n), test: head(mnist.test, 2000) } });
      expect(result.epochs[0].steps).toBe(dropLast ? Math.floor(n / 64) : Math.ceil(n / 64));
      return result.test!.accuracy;
    };
    const dropped = await Promise.all([4992, 5000, 5010].map((n) => accuracy(n, true)));
    expect(Math.max(...dropped) - Math.min(...dropped)).toBeLessThan(0.03);
    // 5000 = 78 x 64 + 8: without it, one step of 8 samples at the full learning rate ends the epoch.
    expect(await accuracy(4992, false)).toBe(dropped[0]);
    expect(await accuracy(5000, false)).toBeLessThan(dropped[1] - 0.1);
  });
});

describe('predict', () => {
  const images = join(dir, 't10k-images-idx3-ubyte');

  it('names image formats it does not read, and classifies the files it can read around a missing one', async () => {
    const jpeg = file('a.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    const gif = file('a.gif', 'GIF89a......');
    const bmp = file('a.bmp', 'BM..........');
    const empty = file('empty.png', '');
    const r = await runCli(['predict', '--checkpoint', good, jpeg, images, join(dir, 'missing.png'), gif, bmp, empty]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(80);
    expect(r.stderr.trim().split('\n')).toEqual([
      `threadgrad: error: ${jpeg} is a JPEG image; this model reads 28x28 PNG images or IDX files of N x 28x28 unsigned bytes: convert it to an 8-bit PNG`,
      `threadgrad: error: cannot read input file ${join(dir, 'missing.png')}: ENOENT`,
      `threadgrad: error: ${gif} is a GIF image; this model reads 28x28 PNG images or IDX files of N x 28x28 unsigned bytes: convert it to an 8-bit PNG`,
      `threadgrad: error: ${bmp} is a BMP image; this model reads 28x28 PNG images or IDX files of N x 28x28 unsigned bytes: convert it to an 8-bit PNG`,
      `threadgrad: error: ${empty} is empty; this model reads 28x28 PNG images or IDX files of N x 28x28 unsigned bytes`,
    ]);
  });

  it('refuses a PNG that declares a huge image from its header, without inflating it', async () => {
    const r = await runCli(['predict', '--checkpoint', good, file('huge.png', pngDeclaring(20000, 20000))]);
    expectOneLineError(r, /huge\.png is 20000x20000 pixels; the model takes 28x28 images/);
  });

  it('stops quietly when the reader of its output has seen enough (| head -1)', async () => {
    const r = await runCli(['predict', '--checkpoint', good, images], { closeStdoutAfterFirstLine: true });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

/** A grayscale PNG whose header says width x height, with a small, highly compressed body. */
function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (gray), no interlace
  return pngOf(ihdr, deflateSync(Buffer.alloc(4 * 2 ** 20), { level: 9 }));
}

describe('messages', () => {
  it.each([
    [['train', '--epochs'], /Not enough arguments following: epochs/],
    [['train', '--config'], /Not enough arguments following: config/],
    [['eval', '--checkpoint'], /Not enough arguments following: checkpoint/],
  ])('a value flag without its value, %o, is a usage error, not a stack trace', async (args, message) => {
    const r = await runCli(args);
    expectOneLineError(r, message);
    expect(r.code).toBe(2);
  });

  it('a diverging run advises a learning rate below the one it used', async () => {
    const r = await runCli([...trainArgs, '--batch-size', '1', '--lr', '40']);
    expectOneLineError(r, /the learning rate 40 is probably too high \(try 4 or lower\)/, { afterLogs: true });
  });

  it('a bad THREADGRAD_* value is no matter when the flag is given; a misspelled name is warned about', async () => {
    const r = await runCli(['train', ...small], { env: { THREADGRAD_EPOCHS: 'junk', THREADGRAD_EPOCH: '3' } });
    expectOneLineError(r, /THREADGRAD_EPOCHS must be an integer/);
    const given = await runCli([...trainArgs, '--epochs', '1'], { env: { THREADGRAD_EPOCHS: 'junk', THREADGRAD_EPOCH: '3' } });
    expect(given.code, given.stderr).toBe(0);
    const warning = given.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((rec) => rec.level === 40);
    expect(warning.msg).toBe('THREADGRAD_EPOCH is not a threadgrad setting and is ignored (did you mean THREADGRAD_EPOCHS?)');
  });

  it('predict --help shows no default for its images', async () => {
    const r = await runCli(['predict', '--help']);
    expect(r.stdout).not.toContain('[default: none]');
  });
});

describe('no stack trace for any bad input to any command', () => {
  const corrupt = (): string => file('corrupt.ckpt', readFileSync(good).subarray(0, 100));
  const cases: string[][] = [
    ['train', '--workers', '-1'], ['train', '--hidden', ''], ['train', '--hidden', '0'], ['train', '--lr', 'NaN'], ['train', '--lr', 'Infinity'],
    ['train', '--seed', '-1'], ['train', '--chunk', '0'], ['train', '--checkpoint-every', 'x'], ['train', '--kernels'], ['train', '--resume'],
    ['train', '--data-dir', '/nonexistent'], ['train', '--data-dir', '/dev/null'], ['train', '--train-images', '/etc/passwd'],
    ['train', '--config', '/etc/passwd'], ['train', '--config', '/dev/null'], ['train', '--resume', '/etc/passwd'], ['train', '--resume', '/dev/zero'],
    ['eval'], ['eval', '--checkpoint', '/nonexistent'], ['eval', '--checkpoint', '/dev/zero'], ['eval', '--checkpoint', '/etc'],
    ['predict'], ['predict', '--checkpoint', '/nonexistent', 'x.png'], ['predict', '--checkpoint', '/etc/passwd', 'x.png'],
    ['bench', '--workers-list', 'x'], ['bench', '--workers-list', ''], ['bench', '--batch-sizes', '0'], ['bench', '--steps', '-1'], ['bench', '--out'],
    ['compare-batching', '--budget', '0'], ['compare-batching', '--passes', 'x'], ['compare-batching', '--full-batch-lr', '-1'],
    ['nonsense'], ['train', 'extra', 'words'],
  ];

  it('each command refuses a battery of bad inputs with one line and a non-zero exit', async () => {
    const all = [...cases, ['eval', '--checkpoint', corrupt()], ['predict', '--checkpoint', good, '/dev/zero'], ['predict', '--checkpoint', good, dir]];
    // In this process: a crash would reject here with its stack; the real executable is run on a few.
    for (const argv of all) {
      const r = await runMain(argv);
      const args = argv.join(' ');
      expect(r.code, args).not.toBe(0);
      expect(r.stderr.trim().split('\n'), args).toHaveLength(1);
      expect(r.stderr, args).toMatch(/^threadgrad: error: /);
    }
    for (const r of await Promise.all([all[0], all[12], all[all.length - 1]].map((argv) => runCli(argv)))) expectOneLineError(r, /./);
  });
});

// CSV files of numeric features and an integer class label per row, streamed through
// csv-parse (quotes, escapes, CRLF) into the same shared storage as IDX data: float32
// features. A row that is not as the first says (another field count, a value that is no
// number, a label that is no class) stops the load with one line naming file, line and
// column.
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { UserError } from '../util/errors.js';
import { statRegular } from '../util/files.js';
import { MAX_CLASSES, emptySplit, type Dataset, type InputSpec, type Split } from './dataset.js';

export interface CsvOptions {
  /**
   * The label's column: a header name, or an index from 0 (a number, or its text), or where a
   * model's training file had it (by name where the file has a header, else by index).
   * Default: the column named "label", else the last.
   */
  labelColumn?: string | number | CsvData['label'];
  /** Whether the first row names the columns; auto: when any of its fields is not a number. */
  header?: 'auto' | 'yes' | 'no';
  /** Every column is a feature (rows to classify); the labels are left at 0. */
  noLabel?: boolean;
  /** Labels must lie below this; a row whose label does not is named by line. Default: any byte (MAX_CLASSES). */
  classes?: number;
  /**
   * The feature columns a model was trained on, by name: a file with a header is read by
   * these names, in this order, whatever order its columns are in; a column it lacks, or one
   * it has beyond them, is an error. Files without a header are read by position.
   */
  columns?: string[];
  /** With `noLabel`: a header name of a column to leave out where a file has it (the model's label). */
  skipColumn?: string;
}

export interface CsvData {
  split: Split;
  /** The feature columns' names, where the file has a header. */
  columns?: string[];
  /** Where the label was: its index among the file's columns, and its name where there is a header. */
  label: { index: number; name?: string };
}

/** Rows are kept in blocks of this many until the count is known, then copied into shared memory once. */
const BLOCK_ROWS = 8192;

export async function readCsvFile(path: string, opts: CsvOptions = {}): Promise<CsvData> {
  statRegular(path, 'CSV file');
  const parser = createReadStream(path).pipe(parse({ info: true, skip_empty_lines: true, trim: true, relax_column_count: true, bom: true }));
  let fields = 0;
  let features = 0;
  let label: CsvData['label'] | undefined;
  let columns: string[] | undefined;
  /** Where each field of a row goes: its feature's index, LABEL, or SKIP. */
  let slots: number[] = [];
  const blocks: { x: Float32Array; labels: Uint8Array }[] = [];
  let count = 0;
  const classes = opts.classes ?? MAX_CLASSES;
  let header: string[] | undefined;
  const where = (line: number, column?: number): string => {
    const name = column === undefined ? '' : `, column ${header ? `"${header[column]}"` : `${column + 1} of ${fields}`}`;
    return `${path}: line ${line}${name}`;
  };
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (!label) {
        fields = record.length;
        features = opts.noLabel ? fields : fields - 1;
        const isHeader = opts.header === 'yes' || (opts.header !== 'no' && record.some((v) => !isNumber(v)));
        label = opts.noLabel ? { index: -1 } : labelOf(record, isHeader, opts.labelColumn, path);
        if (fields < (opts.noLabel ? 1 : 2)) throw new UserError(`${path}: line ${line} has ${fields} column; a CSV needs at least one feature and a label`);
        let next = 0;
        slots = record.map((_, i) => (i === label!.index ? LABEL : next++));
        if (isHeader) {
          header = record;
          if (opts.columns) ({ slots, features } = slotsByName(record, label.index, opts.columns, opts.skipColumn, path));
          columns = opts.columns ?? record.filter((_, i) => i !== label!.index);
          continue;
        }
      }
      if (record.length !== fields) throw new UserError(`${where(line)} has ${record.length} fields, not the ${fields} of ${columns ? 'the header' : 'the first row'}`);
      if (count % BLOCK_ROWS === 0) blocks.push({ x: new Float32Array(BLOCK_ROWS * features), labels: new Uint8Array(BLOCK_ROWS) });
      const block = blocks[blocks.length - 1];
      const row = count % BLOCK_ROWS;
      const f = row * features;
      for (let i = 0; i < fields; i++) {
        const v = record[i];
        if (slots[i] === SKIP) continue;
        if (slots[i] === LABEL) {
          const l = Number(v);
          if (!Number.isInteger(l) || l < 0 || l >= classes || v === '') {
            const which = opts.classes === undefined ? `an integer from 0 to ${MAX_CLASSES - 1}` : `one of the ${classes} classes, 0-${classes - 1}`;
            throw new UserError(`${where(line)}, the label column: ${JSON.stringify(v)} is not a class (${which})`);
          }
          block.labels[row] = l;
        } else {
          if (!isNumber(v)) throw new UserError(`${where(line, i)}: ${JSON.stringify(v)} is not a number`);
          const x = Math.fround(Number(v));
          if (!Number.isFinite(x)) throw new UserError(`${where(line, i)}: ${v} is beyond the range of float32 (about ±3.4e38)`);
          block.x[f + slots[i]] = x;
        }
      }
      count++;
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new UserError(`${path} is not a readable CSV file: ${code.startsWith('CSV_') ? (e as Error).message : code || (e as Error).message}`);
  } finally {
    parser.destroy();
  }
  if (count === 0 || !label) throw new UserError(`${path} holds no rows of data: nothing to train on or test with`);
  const split = emptySplit('floats', count, features);
  blocks.forEach((b, k) => {
    const rows = Math.min(BLOCK_ROWS, count - k * BLOCK_ROWS);
    split.x.set(b.x.subarray(0, rows * features), k * BLOCK_ROWS * features);
    split.labels.set(b.labels.subarray(0, rows), k * BLOCK_ROWS);
  });
  return { split, ...(columns && { columns }), label };
}

const LABEL = -1;
const SKIP = -2;

/**
 * The slots of a header's fields when the features are known by name (CsvOptions.columns):
 * each of `columns` must be there once, and nothing else but the label or `skip`.
 */
function slotsByName(header: string[], labelIndex: number, columns: string[], skip: string | undefined, path: string): { slots: number[]; features: number } {
  const slots = header.map((name, i) => {
    if (i === labelIndex) return LABEL;
    const at = columns.indexOf(name);
    if (at >= 0) return at;
    if (name === skip) return SKIP;
    throw new UserError(`${path}: column "${name}" is not among the feature columns ${columns.join(', ')}`);
  });
  const missing = columns.filter((_, at) => !slots.includes(at));
  if (missing.length > 0) throw new UserError(`${path} has no column ${missing.map((c) => `"${c}"`).join(', ')} (the feature columns are ${columns.join(', ')})`);
  const twice = columns.find((_, at) => slots.indexOf(at) !== slots.lastIndexOf(at));
  if (twice !== undefined) throw new UserError(`${path} has the column "${twice}" twice`);
  return { slots, features: columns.length };
}

/** A number as CSV writes it: what Number() reads, except the empty field (which Number() reads as 0). */
function isNumber(v: string): boolean {
  return v !== '' && Number.isFinite(Number(v));
}

function labelOf(first: string[], header: boolean, wanted: CsvOptions['labelColumn'], path: string): CsvData['label'] {
  const fields = first.length;
  const byIndex = (i: number): CsvData['label'] => {
    if (!(Number.isInteger(i) && i >= 0 && i < fields)) throw new UserError(`${path}: no column ${i} for the label (the rows have ${fields}, numbered from 0)`, 2);
    return { index: i, ...(header && { name: first[i] }) };
  };
  if (typeof wanted === 'object') return header && wanted.name !== undefined ? labelOf(first, header, wanted.name, path) : byIndex(wanted.index);
  if (wanted === undefined) {
    const named = header ? first.indexOf('label') : -1;
    return byIndex(named >= 0 ? named : fields - 1);
  }
  if (typeof wanted === 'number' || /^\d+$/.test(wanted)) return byIndex(Number(wanted));
  if (!header) throw new UserError(`${path} has no header row, so the label column must be given by index, not as "${wanted}"`, 2);
  const i = first.indexOf(wanted);
  if (i < 0) throw new UserError(`${path}: no column named "${wanted}" for the label (the header names ${first.join(', ')})`, 2);
  return byIndex(i);
}

/**
 * Training and test CSV files as a data set: the same feature columns in both. `classes`
 * defaults to the training labels' largest + 1; the test file is read after the training
 * file, so that a test label outside the classes is named by its line.
 */
export async function loadCsvDataset(trainPath: string, testPath: string, opts: CsvOptions = {}): Promise<Dataset> {
  const train = await readCsvFile(trainPath, opts);
  const classes = opts.classes ?? Math.max(2, 1 + train.split.labels.reduce((a, b) => Math.max(a, b), 0));
  // The test file's label and features are where the training file had them: by name where it has a header, else by position.
  const test = await readCsvFile(testPath, { ...opts, labelColumn: train.label, classes, columns: train.columns });
  if (test.split.features !== train.split.features) {
    throw new UserError(`${testPath} has ${test.split.features} feature columns but ${trainPath} has ${train.split.features}: the test set must match the training set`);
  }
  return { train: train.split, test: test.split, classes, input: csvInput(train) };
}

/** What a model trained on a CSV file takes: its features, and where its label column was (predict skips it in such files). */
export function csvInput(data: CsvData): InputSpec {
  return { kind: 'floats', shape: [data.split.features], ...(data.columns && { columns: data.columns }), labelColumn: data.label };
}

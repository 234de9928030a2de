// Where a run's samples come from: the IDX or CSV files the settings name (a data folder may
// hold either), the limits, the validation set held out of the training set, and the
// normalisation fitted on the training samples alone. eval, predict and the library read
// data for a trained model through loadTestSet, checked against what the model was trained on.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainConfig } from './config.js';
import { csvInput, readCsvFile, loadCsvDataset } from './data/csv.js';
import { checkFitsModel, dataPaths, head, holdOut, loadIdxDataset, loadIdxSplit, type Dataset, type InputSpec, type Normalization, type Split } from './data/dataset.js';
import { fitNormalization, normalizeSplit } from './data/normalize.js';
import { UserError } from './util/errors.js';

/** The data the settings name, ready to train on: limited, the validation set held out, normalised. */
export async function loadDataset(cfg: TrainConfig): Promise<Dataset> {
  return prepare(cfg, await loadFiles(cfg));
}

/**
 * `data` as a run trains on it: cut to cfg.trainLimit and cfg.testLimit, cfg.valSplit of
 * its training samples held out as the validation set (none for 0), then the normalisation
 * fitted on what is left for training (or `fitted`, a resumed run's) applied to every split.
 */
export function prepare(cfg: TrainConfig, all: Dataset, fitted?: Normalization): Dataset {
  const data = { ...all, train: cfg.trainLimit ? head(all.train, cfg.trainLimit) : all.train, test: cfg.testLimit ? head(all.test, cfg.testLimit) : all.test };
  const n = data.train.count;
  const count = cfg.valSplit < 1 ? Math.round(cfg.valSplit * n) : cfg.valSplit;
  if (count >= n && count > 0) throw new UserError(`--val-split ${cfg.valSplit} leaves no training samples: the training set holds ${n}`, 2);
  const { val: _, ...rest } = data;
  const split: Dataset = count > 0 ? { ...rest, ...holdOut(data.train, count, cfg.seed) } : rest;
  if (cfg.normalize === 'none') return split;
  const input: InputSpec = { ...data.input, normalize: fitted ?? fitNormalization(cfg.normalize, split.train) };
  const scaled = (s: Split): Split => normalizeSplit(s, input);
  return { ...split, input, train: scaled(split.train), test: scaled(split.test), ...(split.val && { val: scaled(split.val) }) };
}

/** The training and test files as they are: CSV where the settings name CSV files (or a data folder holds train.csv), else IDX. */
export async function loadFiles(cfg: TrainConfig): Promise<Dataset> {
  const csv = csvPaths(cfg);
  if (!csv) return loadIdxDataset(dataPaths(cfg.dataDir, cfg), cfg.classes);
  return loadCsvDataset(csv.train, csv.test, { labelColumn: cfg.labelColumn, header: cfg.csvHeader, classes: cfg.classes });
}

function csvPaths(cfg: TrainConfig): { train: string; test: string } | undefined {
  if (cfg.trainCsv || cfg.testCsv) {
    if (!cfg.trainCsv || !cfg.testCsv) throw new UserError(`--train-csv and --test-csv go together: name ${cfg.trainCsv ? 'the test' : 'the training'} file too`, 2);
    return { train: cfg.trainCsv, test: cfg.testCsv };
  }
  return csvFolder(cfg);
}

/** A --data-dir that holds train.csv and test.csv. */
function csvFolder(cfg: TrainConfig): { train: string; test: string } | undefined {
  const dir = cfg.dataDir;
  if (!dir) return undefined;
  const [train, test] = [join(dir, 'train.csv'), join(dir, 'test.csv')];
  const [hasTrain, hasTest] = [existsSync(train), existsSync(test)];
  if (hasTrain !== hasTest) throw new UserError(`${dir} holds ${hasTrain ? 'train.csv but no test.csv' : 'test.csv but no train.csv'}: a CSV data folder needs both`);
  return hasTrain ? { train, test } : undefined;
}

/**
 * The test set that `cfg` names, for a model trained on `input` with `classes` outputs:
 * read as its training data was (IDX, or CSV with the label where it was), limited by
 * cfg.testLimit, and checked to fit the model (evaluate applies its normalisation). `where`
 * names the data in messages.
 */
export async function loadTestSet(cfg: TrainConfig, input: InputSpec, classes: number): Promise<{ test: Split; where: string }> {
  const csv = cfg.testCsv ?? csvFolder(cfg)?.test;
  let test: Split;
  let where: string;
  let got: InputSpec;
  if (csv) {
    // The label is where the model's record says (by name in a file with a header, else by index).
    const data = await readCsvFile(csv, { labelColumn: input.labelColumn ?? cfg.labelColumn, header: cfg.csvHeader, classes, columns: input.columns });
    [test, where, got] = [data.split, csv, csvInput(data)];
  } else {
    const paths = dataPaths(cfg.dataDir, cfg);
    const data = await loadIdxSplit(paths.testImages, paths.testLabels);
    [test, where, got] = [data.split, paths.testImages, data.input];
  }
  checkFitsModel(test, input, classes, where, got);
  return { test: cfg.testLimit ? head(test, cfg.testLimit) : test, where };
}

/*
 * How long the classifier router takes per request, in-process: the seed's features alone (the baseline), then
 * adding text features, the classifier's calibrated pass probabilities, and the full decision with its reason.
 * Per-request times over every prompt of an outcome file (default RouterBench), mean and p99, and each as a ratio
 * to the baseline measured in the same run, request by request, interleaved so machine noise hits all alike.
 *
 *   npx tsx scripts/bench-features.ts [DATA.jsonl] [--model MODEL.json] [--rounds N]
 *
 * Without --model, a classifier is trained on the same file first (5-fold CV + final fit; its time is printed).
 * The data file defaults to ../shared/data/routerbench/train.jsonl; prices come from models.json next to it or one
 * directory up.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { assertArtefactMatchesCatalog, parseClassifierArtefactJson, type ClassifierArtefact } from '../src/domain/classifierArtefact';
import type { ModelSpec } from '../src/domain/catalog';
import { RouteRequestSchema, type RouteRequest } from '../src/domain/request';
import { loadOutcomeRows, loadPriceTable, turnText, type OutcomeRow } from '../src/providers/replay';
import { routeByClassifier } from '../src/routing/strategies/classifier';
import { knnPassRatesOfVector, trainKnn } from '../src/routing/strategies/knn/knn';
import { passProbabilitiesOfVector } from '../src/routing/strategies/classifier/predict';
import { labelsFromQualities, trainClassifier } from '../src/routing/strategies/classifier/train';
import { extractFeatures } from '../src/routing/features';
import { escalationLadder } from '../src/routing/ladder';
import { featurize } from '../src/routing/textFeatures';
import { buildEvalCatalog } from '../src/analytics/offline/dataset';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { model: { type: 'string' }, rounds: { type: 'string', default: '5' } } });
const dataPath = resolve(positionals[0] ?? '../shared/data/routerbench/train.jsonl');
const rounds = Number(values.rounds);
const pricesPath = [join(dirname(dataPath), 'models.json'), join(dirname(dataPath), '..', 'models.json')].find((p) => existsSync(p));
if (!pricesPath) throw new Error(`no models.json next to ${dataPath} or one directory up`);

const rows = loadOutcomeRows([dataPath]);
const prices = loadPriceTable(pricesPath);
// The catalog `train` builds for these rows, so an artefact it wrote (--model) matches this one's tiers.
const catalog: ModelSpec[] = buildEvalCatalog([...new Set(rows.flatMap((r) => Object.keys(r.outcomes)))].sort(), prices);
const ladder = escalationLadder(catalog);

function toRequest(row: OutcomeRow, i: number): RouteRequest {
  return RouteRequestSchema.parse({
    requestId: `bench-${i}`,
    prompt: row.prompt,
    history: row.history.map((t, k) => ({ role: k % 2 === 0 ? 'user' : 'assistant', content: turnText(t) })),
  });
}
const requests = rows.map(toRequest);

let artefact: ClassifierArtefact;
if (values.model) {
  artefact = parseClassifierArtefactJson(readFileSync(values.model, 'utf8'), values.model);
  assertArtefactMatchesCatalog(artefact, catalog, values.model);
} else {
  const started = performance.now();
  artefact = trainClassifier(
    rows.map((row, i) => ({ request: requests[i]!, passes: labelsFromQualities(row.outcomes) })),
    { catalog, createdAt: new Date().toISOString() },
  ).artefact;
  console.log(`trained on ${rows.length} rows × ${catalog.length} models (5-fold CV + final fit) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
const knn = trainKnn(rows.map((row, i) => ({ request: requests[i]!, passes: labelsFromQualities(row.outcomes) })), artefact.featureSettings, 10);

const stages: { name: string; run: (r: RouteRequest) => unknown }[] = [
  { name: 'seed features (extractFeatures)', run: (r) => extractFeatures(r) },
  { name: '+ text features (featurize)', run: (r) => featurize(r, extractFeatures(r), artefact.featureSettings) },
  { name: '+ calibrated p for every model', run: (r) => passProbabilitiesOfVector(artefact, featurize(r, extractFeatures(r), artefact.featureSettings)) },
  { name: 'routeByClassifier (decision, reason)', run: (r) => routeByClassifier(artefact, ladder, r, extractFeatures(r), { lambda: 1 }) },
  { name: 'kNN pass rates (k=10, brute force)', run: (r) => knnPassRatesOfVector(knn, featurize(r, extractFeatures(r), artefact.featureSettings)) },
];

const samples = stages.map(() => [] as number[]);
let sink = 0;
for (let round = 0; round <= rounds; round++) {
  for (const r of requests) {
    stages.forEach((stage, s) => {
      const t0 = process.hrtime.bigint();
      const out = stage.run(r);
      const ns = Number(process.hrtime.bigint() - t0);
      if (out) sink++;
      if (round > 0) samples[s]!.push(ns / 1000); // round 0 warms the JIT up
    });
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(0.99 * (xs.length - 1))]!;
const chars = mean(requests.map((r) => r.prompt.length + r.history.reduce((n, t) => n + t.content.length, 0)));
console.log(`${requests.length} prompts from ${dataPath} (mean ${chars.toFixed(0)} characters), ${rounds} rounds, Node ${process.version}`);
console.log(`features: ${JSON.stringify(artefact.featureSettings)}; ${catalog.length} models`);
const base = { mean: mean(samples[0]!), p99: p99(samples[0]!) };
console.log(`${'stage (cumulative per request)'.padEnd(40)}${'mean µs'.padStart(10)}${'p99 µs'.padStart(10)}${'mean ×'.padStart(10)}${'p99 ×'.padStart(10)}`);
stages.forEach((stage, s) => {
  const m = mean(samples[s]!);
  const p = p99(samples[s]!);
  console.log(`${stage.name.padEnd(40)}${m.toFixed(1).padStart(10)}${p.toFixed(1).padStart(10)}${(m / base.mean).toFixed(1).padStart(10)}${(p / base.p99).toFixed(1).padStart(10)}`);
});
if (sink === 0) console.log('(nothing ran)');

/*
 * Fits the simulated provider's profiles from recorded outcome data and prints them, as a TypeScript module, to
 * stdout. Regenerate the committed constants with:
 *
 *   npx tsx scripts/fit-simulated-profiles.ts ../shared/data > src/providers/simulated/profiles.ts
 *
 * The data directory defaults to ../shared/data relative to the current directory. Everything the rules below
 * decide is also written into the generated file's header, so a reader of profiles.ts need not read this script.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { TASK_TYPES, type TaskType } from '../src/domain/request';
import { loadOutcomeRows, type OutcomeRow } from '../src/providers/replay';

const SOURCE_FILES = ['routerbench/train.jsonl', 'routellm/mmlu.train.jsonl', 'routellm/gsm8k.train.jsonl', 'routellm/mt_bench.train.jsonl'];

/** Catalog model → recorded proxy of similar standing (see PROXY_NOTE). */
const PROXIES: Record<string, string> = {
  'gpt-4o-mini': 'mistralai/mistral-7b-chat',
  'gpt-4.1-mini': 'gpt-3.5-turbo-1106',
  'gpt-4o': 'gpt-4-1106-preview',
};
/** RouteLLM (MMLU, GSM8K, MT-Bench) recorded only these two; a proxy missing there is bridged through this one. */
const BRIDGE = 'mistralai/mixtral-8x7b-chat';
const BRIDGE_TASKS = ['arc-challenge', 'winogrande', 'mbpp'];

const PROXY_NOTE = [
  'gpt-4o-mini  <- mistralai/mistral-7b-chat. The cheapest chat model in the recorded price table ($0.20/1M), as',
  '                gpt-4o-mini is the cheapest tier here. mixtral-8x7b was the first candidate, but on the recorded',
  '                multiple-choice tasks it beats gpt-3.5-turbo-1106 (ARC 0.851 vs 0.830, Winogrande 0.676 vs 0.631),',
  '                which would make the simulated small tier stronger than the medium one and escalation pointless.',
  '                mistral-7b sits below both other proxies on every task all three were recorded on.',
  'gpt-4.1-mini <- gpt-3.5-turbo-1106. OpenAI\'s previous mid-price model ($1/$2 per 1M), between the two others on',
  '                ARC, Winogrande and MBPP. claude-v2 was rejected: its ARC score (0.571) is below mistral-7b\'s',
  '                and its multiple-choice answers run longer than one letter (answer-format failures, not standing).',
  'gpt-4o       <- gpt-4-1106-preview, the strongest recorded model.',
  'Bridging: MMLU, GSM8K and MT-Bench recorded only gpt-4-1106-preview and the bridge model',
  `${BRIDGE}. For a proxy not recorded on a task: rate = rate(bridge, task) x k, where k = the proxy's`,
  `pass rate / the bridge's on the RouterBench rows where both were recorded (${BRIDGE_TASKS.join(', ')} pooled).`,
  'Output lengths bridge the same way with the ratio of mean output characters. Domain multipliers come from MMLU,',
  'so for a bridged proxy they are the bridge model\'s.',
];

/** Our task type → recorded tasks, pooled over rows; or a blend (equal-weight mean) of other task types. */
type Mapping = { tasks: string[] } | { blend: TaskType[] };
const TASK_MAP: Record<TaskType, Mapping> = {
  classification: { tasks: ['arc-challenge', 'winogrande'] },
  qa: { tasks: ['mmlu'] },
  reasoning: { tasks: ['gsm8k'] },
  code: { tasks: ['mbpp'] },
  generation: { tasks: ['mt_bench'] },
  extraction: { blend: ['classification', 'code'] },
  summarization: { blend: ['generation', 'qa'] },
  other: { blend: ['classification', 'qa', 'reasoning', 'code', 'generation'] },
};
const TASK_NOTE = [
  'classification <- arc-challenge + winogrande (multiple choice; all three proxies recorded there. MMLU is used',
  '                  for qa and has no record of the small and medium proxies, so it is left out here)',
  'qa             <- mmlu (57 subjects)',
  'reasoning      <- gsm8k',
  'code           <- mbpp',
  'generation     <- mt_bench (turns 1 and 2)',
  'extraction     <- mean(classification, code): pick the right facts from the input, then emit an exact,',
  '                  machine-checked format',
  'summarization  <- mean(generation, qa): open-ended writing that must stay faithful to what was read',
  'other          <- mean of the five directly mapped types',
];

/** High-risk domains (src/routing/features.ts HIGH_RISK_DOMAINS) with an MMLU analogue. 'safety' has none: 1. */
const DOMAIN_CATEGORIES: Record<string, string[]> = {
  medical: ['clinical_knowledge', 'college_medicine', 'professional_medicine', 'medical_genetics', 'anatomy', 'virology', 'nutrition'],
  legal: ['professional_law', 'international_law', 'jurisprudence'],
  finance: ['professional_accounting', 'econometrics', 'high_school_macroeconomics', 'high_school_microeconomics'],
};
const DOMAIN_ALIASES: Record<string, string> = { healthcare: 'medical', financial: 'finance' };

/**
 * ASSUMPTIONS, not fitted: no source recorded answer lengths for MMLU or MT-Bench, so the output length of qa and
 * generation (and of the blends that use them) is assumed: a qa answer of a short paragraph, a generation answer of
 * about 500 tokens.
 */
const ASSUMED_OUTPUT_CHARS: Partial<Record<string, number>> = { mmlu: 600, mt_bench: 2000 };

/**
 * ASSUMPTIONS, not fitted: no source recorded latency. Orders of magnitude from public throughput dashboards
 * (e.g. artificialanalysis.ai, OpenAI models, 2025): time to first token ~0.4-0.6 s, 60-90 output tokens/s.
 */
const LATENCY_ASSUMPTIONS: Record<string, { timeToFirstTokenMs: number; outputTokensPerSecond: number }> = {
  'gpt-4o-mini': { timeToFirstTokenMs: 450, outputTokensPerSecond: 85 },
  'gpt-4.1-mini': { timeToFirstTokenMs: 500, outputTokensPerSecond: 75 },
  'gpt-4o': { timeToFirstTokenMs: 550, outputTokensPerSecond: 65 },
};

// ---------------------------------------------------------------------------------------------------------------

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const r1 = (x: number) => Math.round(x * 10) / 10;
const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The pass score of one recorded outcome: 1 if quality >= 0.95, else 0; MT-Bench: the scaled judge score itself. */
function passScore(row: OutcomeRow, quality: number): number {
  if (row.task === 'mt_bench') return quality;
  return quality >= 0.95 ? 1 : 0;
}

interface Stat {
  value: number;
  n: number;
}

function main(): void {
  const dataDir = resolve(process.argv[2] ?? '../shared/data');
  const files = SOURCE_FILES.map((f) => resolve(dataDir, f));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    process.stderr.write(`fit-simulated-profiles: missing data files:\n  ${missing.join('\n  ')}\nusage: npx tsx scripts/fit-simulated-profiles.ts [data dir, default ../shared/data]\n`);
    process.exit(2);
  }
  const rows = loadOutcomeRows(files);
  const byTask = new Map<string, OutcomeRow[]>();
  for (const row of rows) byTask.set(row.task, [...(byTask.get(row.task) ?? []), row]);
  const rowsOf = (tasks: string[]) => tasks.flatMap((t) => byTask.get(t) ?? []);

  const passRate = (model: string, rs: OutcomeRow[]): Stat => {
    let sum = 0;
    let n = 0;
    for (const row of rs) {
      const o = row.outcomes[model];
      if (!o) continue;
      sum += passScore(row, o.quality);
      n++;
    }
    return { value: n > 0 ? sum / n : NaN, n };
  };
  const meanChars = (model: string, rs: OutcomeRow[]): Stat => {
    let sum = 0;
    let n = 0;
    for (const row of rs) {
      const c = row.outcomes[model]?.outputChars;
      if (c === null || c === undefined) continue;
      sum += c;
      n++;
    }
    return { value: n > 0 ? sum / n : NaN, n };
  };

  // Bridge ratios on the RouterBench rows where both the proxy and the bridge model were recorded.
  const bridgeRows = rowsOf(BRIDGE_TASKS);
  const bridgeRatio = (proxy: string) => {
    const both = bridgeRows.filter((r) => r.outcomes[proxy] && r.outcomes[BRIDGE]);
    const p = passRate(proxy, both);
    const b = passRate(BRIDGE, both);
    const pc = meanChars(proxy, both);
    const bc = meanChars(BRIDGE, both);
    return { pass: p.value / b.value, chars: pc.value / bc.value, n: both.length, proxyRate: p.value, bridgeRate: b.value };
  };

  interface Fitted {
    passRate: number;
    n: number;
    outputChars: number;
    outputCharsN: number;
    how: string;
  }

  // Raw recorded table for the header: every proxy and the bridge on every recorded task.
  const recordedTasks = [...byTask.keys()].sort();
  const tableModels = [...new Set([...Object.values(PROXIES), BRIDGE])];
  const rawLines = [
    `model                         ${recordedTasks.map((t) => t.padEnd(20)).join('')}`,
    ...tableModels.map((m) => {
      const cells = recordedTasks.map((t) => {
        const s = passRate(m, byTask.get(t) ?? []);
        return (s.n > 0 ? `${r3(s.value).toFixed(3)} (n=${s.n})` : '-').padEnd(20);
      });
      return `${m.padEnd(30)}${cells.join('')}`;
    }),
  ];

  const profiles: Record<string, { proxy: string; tasks: Record<string, Fitted>; domains: Record<string, { multiplier: number; n: number }>; bridge?: ReturnType<typeof bridgeRatio> }> = {};
  for (const [catalogModel, proxy] of Object.entries(PROXIES)) {
    const ratio = proxy === BRIDGE ? undefined : bridgeRatio(proxy);
    let bridged = false;
    const direct = (tasks: string[]): Fitted => {
      const rs = rowsOf(tasks);
      const own = passRate(proxy, rs);
      let pass: Stat;
      let how: string;
      if (own.n > 0) {
        pass = own;
        how = `${proxy} on ${tasks.join('+')}`;
      } else {
        if (!ratio) throw new Error(`${proxy} has no record on ${tasks.join('+')} and no bridge`);
        const b = passRate(BRIDGE, rs);
        pass = { value: b.value * ratio.pass, n: b.n };
        bridged = true;
        how = `${BRIDGE} on ${tasks.join('+')} x ${r3(ratio.pass)} (bridged)`;
      }
      let chars = meanChars(proxy, rs);
      let charsValue = chars.value;
      if (chars.n === 0) {
        const b = meanChars(BRIDGE, rs);
        if (b.n > 0 && ratio) {
          chars = b;
          charsValue = b.value * ratio.chars;
          bridged = true;
        } else {
          const assumed = tasks.map((t) => ASSUMED_OUTPUT_CHARS[t]).filter((x): x is number => x !== undefined);
          if (assumed.length === 0) throw new Error(`no output length recorded or assumed for ${tasks.join('+')}`);
          chars = { value: NaN, n: 0 };
          charsValue = assumed.reduce((a, c) => a + c, 0) / assumed.length;
        }
      }
      return { passRate: r3(pass.value), n: pass.n, outputChars: r1(charsValue), outputCharsN: chars.n, how };
    };

    const tasks: Record<string, Fitted> = {};
    const fit = (t: TaskType): Fitted => {
      const existing = tasks[t];
      if (existing) return existing;
      const m = TASK_MAP[t];
      let f: Fitted;
      if ('tasks' in m) f = direct(m.tasks);
      else {
        const parts = m.blend.map(fit);
        const mean = (xs: number[]) => xs.reduce((a, c) => a + c, 0) / xs.length;
        f = {
          passRate: r3(mean(parts.map((p) => p.passRate))),
          n: parts.reduce((a, p) => a + p.n, 0),
          outputChars: r1(mean(parts.map((p) => p.outputChars))),
          outputCharsN: parts.reduce((a, p) => a + p.outputCharsN, 0),
          how: `mean(${m.blend.join(', ')})`,
        };
      }
      tasks[t] = f;
      return f;
    };
    for (const t of TASK_TYPES) fit(t);

    const mmluModel = (byTask.get('mmlu') ?? []).some((r) => r.outcomes[proxy]) ? proxy : BRIDGE;
    const mmlu = byTask.get('mmlu') ?? [];
    const overall = passRate(mmluModel, mmlu);
    const domains: Record<string, { multiplier: number; n: number }> = {};
    for (const [domain, cats] of Object.entries(DOMAIN_CATEGORIES)) {
      const d = passRate(mmluModel, mmlu.filter((r) => r.category !== null && cats.includes(r.category)));
      domains[domain] = { multiplier: r3(d.value / overall.value), n: d.n };
    }
    profiles[catalogModel] = { proxy, tasks, domains, ...(ratio && bridged ? { bridge: ratio } : {}) };
  }

  // The simulator's premise: a stronger tier never has a lower pass rate. Report any violation loudly.
  const order = Object.keys(PROXIES);
  const warnings: string[] = [];
  const effective = (m: string, t: TaskType, d: string | undefined) =>
    Math.min(1, profiles[m]!.tasks[t]!.passRate * (d ? profiles[m]!.domains[d]!.multiplier : 1));
  for (const d of [undefined, ...Object.keys(DOMAIN_CATEGORIES)]) {
    for (const t of TASK_TYPES) {
      for (let i = 1; i < order.length; i++) {
        const lo = effective(order[i - 1]!, t, d);
        const hi = effective(order[i]!, t, d);
        if (hi < lo) warnings.push(`${t}${d ? `/${d}` : ''}: ${order[i]} (${r3(hi)}) < ${order[i - 1]} (${r3(lo)})`);
      }
    }
  }
  for (const w of warnings) process.stderr.write(`warning: tier order violated: ${w}\n`);

  const out: string[] = [];
  const c = (s = '') => out.push(s.length > 0 ? ` * ${s}` : ' *');
  out.push('/*');
  c('GENERATED by scripts/fit-simulated-profiles.ts: do not edit by hand. Regenerate with');
  c('  npx tsx scripts/fit-simulated-profiles.ts ../shared/data > src/providers/simulated/profiles.ts');
  c();
  c('Fitted from recorded outcomes (evaluation data, read only by the script, never at run time):');
  for (const f of SOURCE_FILES) c(`  ../shared/data/${f}`);
  c();
  c('Proxies (our catalog models have no recorded outcomes):');
  for (const l of PROXY_NOTE) c(`  ${l}`);
  c();
  c('Task types -> recorded tasks:');
  for (const l of TASK_NOTE) c(`  ${l}`);
  c();
  c('Fitting rule. passRate = share of recorded answers with quality >= 0.95 (the sources record 0/1 correctness);');
  c('for MT-Bench the mean GPT-4 judge score scaled to 0..1 (a 10/10 answer counts 1, 8/10 counts 0.8). Rows are');
  c('pooled across the mapped tasks; RouteLLM\'s `contaminated` rows are kept (the flag concerns RouteLLM\'s router');
  c('training, not the models). n = recorded answers behind a number (for blends: the sum of the parts).');
  c('outputChars = mean recorded output characters (RouterBench, GSM8K); outputCharsN = 0 marks an ASSUMPTION');
  c(`(no length recorded: ${Object.entries(ASSUMED_OUTPUT_CHARS).map(([t, v]) => `${t} ${v} chars`).join(', ')}).`);
  c('Domain multipliers: pass rate on the domain\'s MMLU subjects / pass rate on all of MMLU, for the model recorded');
  c('on MMLU (the proxy, else the bridge); the simulator multiplies the task pass rate by it (capped at 1).');
  for (const [d, cats] of Object.entries(DOMAIN_CATEGORIES)) c(`  ${d}: ${cats.join(', ')}`);
  c(`  aliases: ${Object.entries(DOMAIN_ALIASES).map(([a, d]) => `${a} -> ${d}`).join(', ')}; any other domain: 1`);
  c();
  c('Recorded pass rates (the raw material):');
  for (const l of rawLines) c(`  ${l.trimEnd()}`);
  for (const [m, p] of Object.entries(profiles)) {
    if (p.bridge) {
      c(
        `Bridge ${m} (${p.proxy}): on ${p.bridge.n} shared RouterBench rows ${r3(p.bridge.proxyRate)} vs ${r3(p.bridge.bridgeRate)} -> k = ${r3(p.bridge.pass)}; length ratio ${r3(p.bridge.chars)}`,
      );
    }
  }
  if (warnings.length > 0) c(`WARNING tier order violated: ${warnings.join('; ')}`);
  c();
  c('LATENCY is NOT fitted (no source recorded it): latencyMs = timeToFirstTokenMs + outputTokens /');
  c('outputTokensPerSecond x 1000, with ASSUMED constants of the order public throughput dashboards report for these');
  c('models (e.g. artificialanalysis.ai, 2025).');
  out.push(' */');
  out.push("import type { TaskType } from '../../domain/request';");
  out.push('');
  out.push('export interface SimulatedTaskProfile {');
  out.push('  /** Chance that an answer passes, 0..1 (see the fitting rule above). */');
  out.push('  passRate: number;');
  out.push('  /** Recorded answers behind passRate. */');
  out.push('  n: number;');
  out.push('  /** Mean answer length in characters. */');
  out.push('  outputChars: number;');
  out.push('  /** Recorded answers behind outputChars; 0 = an assumption, not a recorded number. */');
  out.push('  outputCharsN: number;');
  out.push('  /** Where the numbers come from. */');
  out.push('  how: string;');
  out.push('}');
  out.push('');
  out.push('export interface SimulatedModelProfile {');
  out.push('  /** The recorded model whose outcomes stand in for this one. */');
  out.push('  proxy: string;');
  out.push('  tasks: Record<TaskType, SimulatedTaskProfile>;');
  out.push('  /** Pass-rate multipliers for high-risk domains, fitted from MMLU subjects. */');
  out.push('  domains: Record<string, { multiplier: number; n: number }>;');
  out.push('}');
  out.push('');
  out.push('export const SIMULATED_PROFILES: Readonly<Record<string, SimulatedModelProfile>> = {');
  for (const [m, p] of Object.entries(profiles)) {
    out.push(`  '${m}': {`);
    out.push(`    proxy: '${p.proxy}',`);
    out.push('    tasks: {');
    for (const t of TASK_TYPES) {
      const f = p.tasks[t]!;
      out.push(
        `      ${t}: { passRate: ${f.passRate}, n: ${f.n}, outputChars: ${f.outputChars}, outputCharsN: ${f.outputCharsN}, how: ${quote(f.how)} },`,
      );
    }
    out.push('    },');
    out.push('    domains: {');
    for (const [d, v] of Object.entries(p.domains)) out.push(`      ${d}: { multiplier: ${v.multiplier}, n: ${v.n} },`);
    out.push('    },');
    out.push('  },');
  }
  out.push('};');
  out.push('');
  out.push('/** Other spellings of the fitted domains. */');
  out.push(`export const DOMAIN_ALIASES: Readonly<Record<string, string>> = { ${Object.entries(DOMAIN_ALIASES).map(([a, d]) => `${a}: ${quote(d)}`).join(', ')} };`);
  out.push('');
  out.push('/** ASSUMPTIONS, not fitted: latency was not recorded (see the header). */');
  out.push('export const LATENCY_ASSUMPTIONS: Readonly<Record<string, { timeToFirstTokenMs: number; outputTokensPerSecond: number }>> = {');
  for (const [m, l] of Object.entries(LATENCY_ASSUMPTIONS)) out.push(`  '${m}': { timeToFirstTokenMs: ${l.timeToFirstTokenMs}, outputTokensPerSecond: ${l.outputTokensPerSecond} },`);
  out.push('};');
  process.stdout.write(out.join('\n') + '\n');
}

main();

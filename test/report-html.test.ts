import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { renderReportHtml } from '../src/analytics/report/html';
import type { GroupFigures, Interval, RoutingReport } from '../src/analytics/report/model';
import { launchBrowser, type TestBrowser } from './helpers/browser';

const SCREENSHOT = join(__dirname, '..', 'test-output', 'screenshots', 'report.png');

// Names that would run script, load an image or add elements if the page put them in as markup.
const EVIL_GROUP = 'classifier <script>window.__pwned = 1</script> & co';
const EVIL_MODEL = 'mini<img src=x onerror="window.__pwned = 2">&';
const EVIL_TENANT = 'acme <script>window.__pwned = 3</script> & sons';
const EVIL_REQUEST = 'req-<b>bold</b>&amp;';
const UI_URL = 'http://127.0.0.1:8233/namespaces/default/workflows/route-acme-req-1/run-1/history';

/** A group's figures from its raw counts, the derived shares worked out as the report defines them. */
function group(key: string, g: {
  requests: number; costUsd: number; savedUsd: number; judgeUsd: number; escalated: number; passed: number;
  labelled: number | null; underRouted: number; retention: Interval | null; latency: [number, number, number];
  speculative?: GroupFigures['speculative']; bandit?: GroupFigures['bandit'];
}): GroupFigures {
  const alwaysBest = g.costUsd + g.savedUsd;
  return {
    key,
    requests: g.requests,
    routingAccuracy: g.labelled === null ? null : { share: (g.labelled - g.underRouted) / g.labelled, labelled: g.labelled, underRouted: g.underRouted },
    costUsd: g.costUsd,
    alwaysBestCostUsd: alwaysBest,
    costSavedUsd: g.savedUsd,
    savingsShare: g.savedUsd / alwaysBest,
    costPer1kUsd: (g.costUsd / g.requests) * 1000,
    judgeCostUsd: g.judgeUsd,
    passRate: g.passed / g.requests,
    escalationRate: g.escalated / g.requests,
    modelMix: {},
    latencyMs: { p50: g.latency[0], p95: g.latency[1], p99: g.latency[2] },
    qualityRetention: g.retention,
    shadowCostUsd: 0.01,
    speculative: g.speculative ?? null,
    bandit: g.bandit ?? null,
  };
}

function fixture(): RoutingReport {
  const rules = group('rules', {
    requests: 400, costUsd: 0.8, savedUsd: 1.2, judgeUsd: 0.02, escalated: 60, passed: 390, labelled: 400, underRouted: 28,
    retention: { estimate: 0.985, low: 0.97, high: 0.995, samples: 120 }, latency: [220, 900, 1800],
  });
  const classifier = group(EVIL_GROUP, {
    requests: 200, costUsd: 0.5, savedUsd: 0.5, judgeUsd: 0.01, escalated: 30, passed: 196, labelled: 200, underRouted: 10,
    retention: null, latency: [180, 700, 1500],
    speculative: { raced: 20, racedShare: 0.1, partnerCancelled: 18, cancelledCostUsd: 0.004 },
  });
  const bandit = group('bandit', {
    requests: 100, costUsd: 0.1, savedUsd: 0.4, judgeUsd: 0.005, escalated: 20, passed: 95, labelled: null, underRouted: 0,
    retention: { estimate: 0.96, low: 0.93, high: 0.98, samples: 40 }, latency: [150, 600, 1400],
    bandit: { requests: 100, meanPropensity: 0.8125, exploredShare: 0.1 },
  });
  const totals = group('all', {
    requests: 700, costUsd: 1.4, savedUsd: 2.1, judgeUsd: 0.035, escalated: 110, passed: 681, labelled: 600, underRouted: 38,
    retention: { estimate: 0.978, low: 0.965, high: 0.99, samples: 160 }, latency: [200, 850, 1700],
  });
  return {
    generatedAt: '2026-11-05T09:00:00.000Z',
    filter: { since: '2026-11-01T00:00:00.000Z', until: '2026-11-05T00:00:00.000Z', tenant: EVIL_TENANT },
    groupBy: 'strategy',
    totals,
    groups: [rules, classifier, bandit],
    timeline: [
      { bucket: '2026-11-01', requests: 200, escalationRate: 0.2, savingsShare: 0.55, modelMix: { small: 0.7, large: 0.3 } },
      { bucket: '2026-11-02', requests: 150, escalationRate: 0.1, savingsShare: 0.6, modelMix: { small: 0.6, large: 0.3, [EVIL_MODEL]: 0.1 } },
      { bucket: '2026-11-03', requests: 200, escalationRate: 0.15, savingsShare: 0.62, modelMix: { small: 0.5, large: 0.5 } },
      { bucket: '2026-11-04', requests: 150, escalationRate: 0.125, savingsShare: 0.65, modelMix: { small: 0.8, large: 0.2 } },
    ],
    latencyHistogram: { boundsMs: [100, 250, 500, 1000, 2500], counts: [50, 200, 300, 100, 40, 10] },
    costQuality: [
      { label: 'rules', kind: 'strategy', costPer1kUsd: 2.0, qualityRetention: 0.985 },
      { label: EVIL_GROUP, kind: 'strategy', costPer1kUsd: 2.5, qualityRetention: null },
      { label: 'bandit', kind: 'strategy', costPer1kUsd: 1.0, qualityRetention: 0.96 },
      { label: 'always-best', kind: 'always-best', costPer1kUsd: 5.0, qualityRetention: 1 },
      { label: 'oracle', kind: 'oracle', costPer1kUsd: 0.6, qualityRetention: 1 },
    ],
    expensive: [
      { requestId: 'req-1', workflowId: 'route-acme-req-1', timestamp: '2026-11-03T10:00:00.000Z', costUsd: 0.0125, finalModel: 'large', escalated: true, webUiUrl: UI_URL },
      { requestId: EVIL_REQUEST, workflowId: 'route-acme-req-2', timestamp: '2026-11-02T08:30:00.000Z', costUsd: 0.011, finalModel: EVIL_MODEL, escalated: false },
      { requestId: 'req-3', workflowId: 'route-acme-req-3', timestamp: '2026-11-01T12:00:00.000Z', costUsd: 0.009, finalModel: 'large', escalated: false, webUiUrl: 'javascript:window.__pwned = 4' },
    ],
  };
}

function emptyReport(): RoutingReport {
  const none = group('all', {
    requests: 0, costUsd: 0, savedUsd: 0, judgeUsd: 0, escalated: 0, passed: 0, labelled: null, underRouted: 0, retention: null, latency: [0, 0, 0],
  });
  return {
    generatedAt: '2026-11-05T09:00:00.000Z', filter: { policy: 'default' }, groupBy: 'strategy',
    totals: { ...none, savingsShare: 0, costPer1kUsd: 0, passRate: 0, escalationRate: 0 },
    groups: [], timeline: [], latencyHistogram: { boundsMs: [100, 250], counts: [0, 0, 0] }, costQuality: [], expensive: [],
  };
}

/** What the page logged as an error, and every request it made. */
interface Watched { page: Page; errors: string[]; requests: string[] }

describe('the HTML routing report in a real browser', () => {
  let browser: TestBrowser;
  let dir: string;

  before(async () => {
    browser = await launchBrowser();
    dir = mkdtempSync(join(tmpdir(), 'router-report-html-'));
  });
  after(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the page, opens it from disk with every request but the file itself refused, and records what happens. */
  async function open(name: string, report: RoutingReport, scriptsOff = false): Promise<Watched & { url: string }> {
    const file = join(dir, name);
    writeFileSync(file, renderReportHtml(report, { title: 'Routing <report> & co' }));
    const url = pathToFileURL(file).href;
    const page = await browser.context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => requests.push(r.url()));
    await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
    if (scriptsOff) await (await page.context().newCDPSession(page)).send('Emulation.setScriptExecutionDisabled', { value: true });
    await page.goto(url, { waitUntil: 'load' });
    return { page, errors, requests, url };
  }

  /** The cells, by column header, of the group named `row` in both summary tables (both hold every group). */
  async function groupRow(page: Page, row: string): Promise<Record<string, string>> {
    const cells: Record<string, string> = {};
    for (const table of ['summary-table', 'cost-latency-table']) {
      const headers = await page.locator(`#${table} thead th`).allTextContents();
      const rows = page.locator(`#${table} tbody tr`);
      const names = await rows.locator('th').allTextContents();
      assert.equal(names.filter((n) => n === row).length, 1, `one row "${row}" in #${table}`);
      const texts = await rows.nth(names.indexOf(row)).locator('th, td').allTextContents();
      headers.forEach((h, i) => (cells[h] = texts[i]!.replace(/\s+/g, ' ').trim()));
    }
    return cells;
  }

  it('draws every chart from the inlined Chart.js, fetches nothing, logs no error, and shows the figures as text', async () => {
    const { page, errors, requests, url } = await open('report.html', fixture());
    try {
      assert.deepEqual(errors, [], 'no console or page errors');
      assert.deepEqual(requests, [url], 'the file itself is the only request');

      // Every chart: a canvas with a size, a Chart.js chart of the expected shape, and ink where its first mark is.
      const drawn = await page.evaluate(() => {
        interface El { x: number; y: number; base?: number }
        interface PageChart {
          data: { labels?: string[]; datasets: { label: string; data: unknown[]; backgroundColor: string }[] };
          chartArea: { left: number; top: number; right: number; bottom: number };
          currentDevicePixelRatio: number;
          ctx: { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
          getDatasetMeta(i: number): { data: El[] };
        }
        interface CanvasEl { id: string; width: number; height: number; getBoundingClientRect(): { width: number; height: number } }
        const w = globalThis as unknown as {
          Chart: { getChart(c: unknown): PageChart | undefined };
          document: { querySelectorAll(s: string): ArrayLike<CanvasEl> };
        };
        return Array.from(w.document.querySelectorAll('canvas')).map((canvas) => {
          const chart = w.Chart.getChart(canvas)!;
          const r = chart.currentDevicePixelRatio;
          const a = chart.chartArea;
          const area = chart.ctx.getImageData(a.left * r, a.top * r, (a.right - a.left) * r, (a.bottom - a.top) * r).data;
          let inked = 0;
          for (let i = 3; i < area.length; i += 4) if (area[i]! > 0) inked++;
          const el = chart.getDatasetMeta(0).data[0]!;
          const y = el.base === undefined ? el.y : (el.y + el.base) / 2; // a bar's middle, or a point's centre
          const px = Array.from(chart.ctx.getImageData(Math.round(el.x * r), Math.round(y * r), 1, 1).data);
          const box = canvas.getBoundingClientRect();
          return {
            id: canvas.id, width: canvas.width, height: canvas.height, cssWidth: box.width, cssHeight: box.height, inked,
            firstMarkPixel: px, firstColor: chart.data.datasets[0]!.backgroundColor,
            labels: chart.data.labels ?? [],
            datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })),
          };
        });
      });
      assert.deepEqual(drawn.map((c) => c.id), ['chart-cost-quality', 'chart-model-mix', 'chart-escalation-savings', 'chart-latency']);
      for (const c of drawn) {
        assert.ok(c.width > 0 && c.height > 0 && c.cssWidth > 0 && c.cssHeight > 0, `${c.id} has a size`);
        assert.ok(c.inked > 500, `${c.id} drew in its plot area (${c.inked} pixels)`);
        const rgb = [1, 3, 5].map((i) => parseInt(c.firstColor.slice(i, i + 2), 16));
        assert.deepEqual(c.firstMarkPixel, [...rgb, 255], `${c.id}: its first mark is painted in its dataset's colour`);
      }
      const [cq, mix, es, latency] = drawn as [typeof drawn[0], typeof drawn[0], typeof drawn[0], typeof drawn[0]];

      // Cost-quality: the measured points in percent; the unmeasured one is in the legend and placed nowhere.
      assert.deepEqual(cq.datasets.map((d) => d.label), ['Strategies', 'Always-best', 'Oracle', `quality not measured: ${EVIL_GROUP}`]);
      assert.deepEqual(cq.datasets.map((d) => d.data), [
        [{ x: 2, y: 98.5, label: 'rules' }, { x: 1, y: 96, label: 'bandit' }],
        [{ x: 5, y: 100, label: 'always-best' }],
        [{ x: 0.6, y: 100, label: 'oracle' }],
        [],
      ]);
      const note = await page.locator('#chart-cost-quality-figure .note').textContent();
      assert.match(note!, /not measured/);
      assert.ok(note!.includes(`${EVIL_GROUP} at $2.500000 per 1k requests`), note!);

      // Model mix: stacked percentages per day, models by requests answered (small 450, large 235, the third 15).
      assert.deepEqual(mix.labels, ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04']);
      assert.deepEqual(mix.datasets.map((d) => d.label), ['small', 'large', EVIL_MODEL]);
      const rounded = (d: { data: unknown[] }) => d.data.map((v) => Math.round((v as number) * 1e6) / 1e6);
      assert.deepEqual(mix.datasets.map(rounded), [[70, 60, 50, 80], [30, 30, 50, 20], [0, 10, 0, 0]]);

      assert.deepEqual(es.datasets.map(rounded), [[20, 10, 15, 12.5], [55, 60, 62, 65]]);
      assert.deepEqual(latency.labels, ['≤ 100 ms', '≤ 250 ms', '≤ 500 ms', '≤ 1000 ms', '≤ 2500 ms', '> 2500 ms']);
      assert.deepEqual(latency.datasets.map((d) => d.data), [[50, 200, 300, 100, 40, 10]]);

      // The summary: savings 1.2 of 2.0 = 60 %; $0.8 over 400 requests = $2 per 1k; 28 of 400 under-routed = 93 %.
      const rules = await groupRow(page, 'rules');
      assert.equal(rules['requests'], '400');
      assert.equal(rules['cost savings'], '60.0 % ($1.200000 of $2.000000)');
      assert.equal(rules['cost / 1k requests'], '$2.000000');
      assert.equal(rules['routing accuracy'], '93.0 % (400 labelled, 28 under-routed)');
      assert.equal(rules['quality retention'], '98.5 % (95 % CI 97.0 % – 99.5 %, n = 120)');
      assert.equal(rules['escalation rate'], '15.0 %');
      assert.equal(rules['latency p95'], '900 ms');
      assert.equal(rules['speculative'], '—');
      const evil = await groupRow(page, EVIL_GROUP);
      assert.equal(evil['quality retention'], 'not measured');
      assert.equal(evil['speculative'], '20 raced (10.0 %), 18 partners cancelled, $0.004000 cancelled cost');
      assert.equal((await groupRow(page, 'bandit'))['bandit'], '100 requests, mean propensity 0.813, 10.0 % explored');
      const all = await groupRow(page, 'all requests');
      assert.equal(all['escalation rate'], '15.7 %'); // 110 of 700
      assert.equal(all['cost savings'], '60.0 % ($2.100000 of $3.500000)');

      // The most expensive requests: a link where the Web UI address is known, plain text otherwise.
      const links = page.locator('#expensive-table a');
      assert.equal(await links.count(), 1, 'one link: neither the missing nor the javascript: address becomes one');
      assert.equal(await links.first().getAttribute('href'), UI_URL);
      assert.equal(await links.first().textContent(), 'route-acme-req-1');
      assert.deepEqual(await page.locator('#expensive-table tbody tr').nth(2).locator('td').allTextContents(),
        ['3', 'req-3', 'route-acme-req-3', '2026-11-01T12:00:00.000Z', 'large', 'no', '$0.009000']);

      // User data shows as text and never as markup.
      const body = await page.locator('body').innerText();
      for (const name of [EVIL_GROUP, EVIL_MODEL, EVIL_TENANT, EVIL_REQUEST]) assert.ok(body.includes(name), `"${name}" shows as text`);
      assert.equal(await page.title(), 'Routing <report> & co');
      assert.equal(await page.locator('img, b, main script, header script').count(), 0, 'no element came from the data');
      assert.equal(await page.locator('script').count(), 3, 'the data, Chart.js, the chart script');
      assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);

      mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`report screenshot: ${SCREENSHOT}`);
    } finally {
      await page.close();
    }
  });

  it('keeps its tables whole without JavaScript', async () => {
    const { page, errors } = await open('report-noscript.html', fixture(), true);
    try {
      assert.deepEqual(errors, []);
      assert.equal((await groupRow(page, 'rules'))['cost / 1k requests'], '$2.000000');
      assert.equal(await page.locator('#expensive-table a').getAttribute('href'), UI_URL);
      assert.match(await page.locator('#charts').innerText(), /The charts need JavaScript/);
    } finally {
      await page.close();
    }
  });

  it('says that an empty window has no requests, with no chart and no error', async () => {
    const { page, errors, requests, url } = await open('empty.html', emptyReport());
    try {
      assert.deepEqual(errors, []);
      assert.deepEqual(requests, [url]);
      assert.match(await page.locator('main').innerText(), /This window has no requests/);
      assert.equal(await page.locator('canvas, table').count(), 0);
    } finally {
      await page.close();
    }
  });
});

describe('renderReportHtml on a malformed report', () => {
  it('names the histogram field and its rule when counts and bounds disagree', () => {
    const report = { ...fixture(), latencyHistogram: { boundsMs: [100, 250], counts: [1, 2, 3, 4] } };
    assert.throws(() => renderReportHtml(report), /latencyHistogram\.counts: has 4 entries for 2 bounds .*one more for the overflow bucket/);
  });
});

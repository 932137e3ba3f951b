import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

/**
 * Steps through the Temporal Web UI that the pinned CLI bundles (UI 2.54.1): its test ids and its layout. Every
 * step waits on what the UI renders, never on time.
 */

const UI_TIMEOUT_MS = 30_000;

/** Ignored by git; the test output names every file written here. */
export const SCREENSHOT_DIR = join(__dirname, '..', '..', 'test-output', 'screenshots');

/** Large enough that a short run's whole history, summaries included, fits one screenshot. */
export async function newUiPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1920, height: 2200 });
  return page;
}

/** Saves what the page shows as test-output/screenshots/<name>.png and returns the path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

const LIST_ROW = '[data-testid="workflows-summary-configurable-table-row"]';

/**
 * Opens the workflow list filtered by a visibility query (the UI's `query` URL parameter) and returns the listed
 * workflow ids, once `expectedRows` rows are there (a list with more is returned whole, for the caller to judge).
 */
export async function listWorkflows(page: Page, uiUrl: string, query: string, expectedRows: number, namespace = 'default'): Promise<string[]> {
  await page.goto(`${uiUrl}/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`);
  const rows = page.locator(LIST_ROW);
  try {
    await rows.nth(expectedRows - 1).waitFor({ timeout: UI_TIMEOUT_MS });
  } catch (err) {
    throw new Error(`the workflow list for "${query}" shows ${await rows.count()} rows, not ${expectedRows}: ${(err as Error).message}`);
  }
  // The first link of a row is its workflow id.
  return Promise.all((await rows.all()).map(async (row) => (await row.locator('a').first().innerText()).trim()));
}

/** Follows a listed run's workflow id to the run's page. */
export async function openListedWorkflow(page: Page, workflowId: string): Promise<void> {
  await page.locator(LIST_ROW).getByRole('link', { name: workflowId, exact: true }).click();
  await page.getByTestId('workflow-id-heading').getByText(workflowId, { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
}

type RunTab = 'timeline' | 'history' | 'search-attributes' | 'memo' | 'user-metadata';

/** Clicks one of the run page's tabs and waits until the UI is on it. */
export async function openRunTab(page: Page, tab: RunTab): Promise<void> {
  await page.getByTestId(`${tab}-tab`).click();
  await page.waitForURL((url) => url.pathname.endsWith(`/${tab}`), { timeout: UI_TIMEOUT_MS });
}

/** The run's search attributes as its Search Attributes tab shows them (a read-only JSON editor). */
export async function readSearchAttributes(page: Page): Promise<Record<string, unknown>> {
  await openRunTab(page, 'search-attributes');
  const editor = page.getByRole('textbox', { name: 'Search Attributes' });
  await editor.waitFor({ timeout: UI_TIMEOUT_MS });
  return JSON.parse(await editor.innerText()) as Record<string, unknown>;
}

/** One row of the Event History table: its id, the type the UI names, and the label → value pairs beside it. */
export interface HistoryRow {
  eventId: number;
  eventType: string;
  details: Record<string, string>;
}

/** What the row reader touches of the DOM (the project compiles without the DOM's types); innerText is the rendered text, without icons' titles. */
interface Rendered {
  innerText: string;
}
interface RowElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): Rendered | null;
  querySelectorAll(selector: string): ArrayLike<{ querySelector(selector: string): (Rendered & { nextElementSibling: Rendered | null }) | null }>;
}

/** The run's Event History tab, oldest event first, once the whole history (event 1 included) is on the page. */
export async function readEventHistory(page: Page): Promise<HistoryRow[]> {
  await openRunTab(page, 'history');
  const rows = page.getByTestId('event-summary-row');
  await rows.and(page.locator('[data-eventid="1"]')).waitFor({ timeout: UI_TIMEOUT_MS });
  const read = await rows.evaluateAll((elements: RowElement[]) =>
    elements.map((row) => {
      const details: [string, string][] = [];
      // Each detail is a small label (<p>) followed by its value.
      for (const pair of Array.from(row.querySelectorAll('td.w-full div.flex.max-w-xl'))) {
        const label = pair.querySelector('p');
        if (label?.innerText) details.push([label.innerText.trim(), label.nextElementSibling?.innerText.trim() ?? '']);
      }
      return { eventId: Number(row.getAttribute('data-eventid')), eventType: row.querySelector('td.truncate')?.innerText.trim() ?? '', details };
    }),
  );
  return read.map((r) => ({ ...r, details: Object.fromEntries(r.details) })).sort((a, b) => a.eventId - b.eventId);
}

/*
 * A tenant's spend, as the budget workflow holds it: what was charged this UTC day and month, and the reservations
 * still open. Pure and zod-free (the workflow bundle imports it): the workflow supplies the clock, the activities
 * the figures. Amounts are kept as whole nano-dollars, so sums are exact and a ledger carried across
 * continue-as-new is the same ledger; the API speaks USD.
 */

export const LEDGER_VERSION = 1;

/** A tenant's caps; a missing one does not limit. */
export interface BudgetCaps {
  dailyUsd?: number;
  monthlyUsd?: number;
}

export interface OpenReservation {
  nano: number;
  at: number;
  expiresAt: number;
  /** The worst case rests on an estimated token count (characters ÷ 4), not a tokenizer's. */
  estimated?: boolean;
  /** What the money is for ("small-model", "judge"), for the view. */
  label?: string;
}

/** A reservation that expired and was charged its worst case, kept so a late settle can put the actual cost in its place. */
export interface ExpiredReservation {
  nano: number;
  at: number;
  day: string;
  month: string;
}

export interface BudgetLedger {
  version: typeof LEDGER_VERSION;
  /** The caps the last reservation brought (the tenants file may change them). */
  caps: BudgetCaps;
  day: { period: string; spentNano: number };
  month: { period: string; spentNano: number };
  open: Record<string, OpenReservation>;
  /** Settled ids and when, so a repeated settle is a no-op; forgotten after SETTLED_RETENTION_MS. */
  settled: Record<string, number>;
  expired: Record<string, ExpiredReservation>;
  counters: { reserved: number; settled: number; expired: number; lateSettles: number; unknownSettles: number };
}

/**
 * How long a settled id is remembered. A repeated settle comes from a retry of the settle activity, whose
 * schedule-to-close timeout (SETTLE_SCHEDULE_TO_CLOSE_MS) is well inside this; keeping ids longer only grows the
 * state carried across continue-as-new.
 */
export const SETTLED_RETENTION_MS = 15 * 60_000;
export const SETTLE_SCHEDULE_TO_CLOSE_MS = 5 * 60_000;
/** Expired reservations are rare and their late settles can come after a long outage: kept a day. */
export const EXPIRED_RETENTION_MS = 24 * 60 * 60_000;

const NANO = 1e9;
export const toNano = (usd: number) => Math.round(usd * NANO);
export const toUsd = (nano: number) => nano / NANO;

export const dayOf = (now: number) => new Date(now).toISOString().slice(0, 10);
export const monthOf = (now: number) => new Date(now).toISOString().slice(0, 7);

export function emptyLedger(now: number): BudgetLedger {
  return {
    version: LEDGER_VERSION,
    caps: {},
    day: { period: dayOf(now), spentNano: 0 },
    month: { period: monthOf(now), spentNano: 0 },
    open: {},
    settled: {},
    expired: {},
    counters: { reserved: 0, settled: 0, expired: 0, lateSettles: 0, unknownSettles: 0 },
  };
}

export interface ReserveInput {
  /** `<request workflow id>/<run>/<call index>`: a retried reserve of the same call finds its reservation. */
  id: string;
  usd: number;
  caps: BudgetCaps;
  now: number;
  /** Closed at its worst case if not settled within this. */
  ttlMs: number;
  estimated?: boolean;
  label?: string;
}

export interface Reservation {
  id: string;
  reservedUsd: number;
  /** True when this id was reserved (or closed) before: nothing new was reserved. */
  repeated: boolean;
}

export interface SettleInput {
  id: string;
  actualUsd: number;
  now: number;
}

export interface Settlement {
  id: string;
  /** What this settle added to spend (negative when a late settle replaced a larger expired charge). */
  chargedUsd: number;
  outcome: 'settled' | 'repeated' | 'late' | 'unknown';
}

/** Why a reservation is refused: over a cap (with the figures), or input that breaks the contract. */
export class BudgetRefusal extends Error {
  constructor(
    message: string,
    readonly cap?: 'daily' | 'monthly',
  ) {
    super(message);
    this.name = 'BudgetRefusal';
  }
}

const openNano = (ledger: BudgetLedger) => Object.values(ledger.open).reduce((n, r) => n + r.nano, 0);

/** Spent this period as of `now`: nothing yet once a new UTC day (month) has begun. */
function spentAt(ledger: BudgetLedger, now: number): { day: number; month: number } {
  return {
    day: ledger.day.period === dayOf(now) ? ledger.day.spentNano : 0,
    month: ledger.month.period === monthOf(now) ? ledger.month.spentNano : 0,
  };
}

function inputProblem(input: ReserveInput): string | undefined {
  if (typeof input.id !== 'string' || input.id.length === 0 || input.id.length > 256) return 'reservation id: must be 1-256 characters';
  if (!(Number.isFinite(input.usd) && input.usd >= 0)) return `usd: must be a finite number ≥ 0, got ${input.usd}`;
  if (!(Number.isFinite(input.ttlMs) && input.ttlMs > 0)) return `ttlMs: must be a positive number, got ${input.ttlMs}`;
  for (const key of ['dailyUsd', 'monthlyUsd'] as const) {
    const cap = input.caps[key];
    if (cap !== undefined && !(Number.isFinite(cap) && cap >= 0)) return `caps.${key}: must be a finite number ≥ 0, got ${cap}`;
  }
  return undefined;
}

const usd = (nano: number) => `$${toUsd(nano).toFixed(6)}`;

/**
 * Why `reserve` would refuse, without changing the ledger (the update's validator): spent plus open reservations
 * plus this one would cross a cap. A repeated id is never refused: it was accepted before. Expired reservations
 * need no special case: expiring moves their amount from reserved to spent, the sum stays.
 */
export function reserveProblem(ledger: BudgetLedger, input: ReserveInput): BudgetRefusal | undefined {
  const bad = inputProblem(input);
  if (bad) return new BudgetRefusal(bad);
  if (ledger.open[input.id] || ledger.settled[input.id] !== undefined || ledger.expired[input.id]) return undefined;
  const spent = spentAt(ledger, input.now);
  const reserved = openNano(ledger);
  const wanted = toNano(input.usd);
  const checks = [
    { cap: 'daily' as const, capUsd: input.caps.dailyUsd, spent: spent.day, period: dayOf(input.now) },
    { cap: 'monthly' as const, capUsd: input.caps.monthlyUsd, spent: spent.month, period: monthOf(input.now) },
  ];
  for (const { cap, capUsd, spent: spentNano, period } of checks) {
    if (capUsd === undefined) continue;
    const capNano = toNano(capUsd);
    if (spentNano + reserved + wanted > capNano) {
      return new BudgetRefusal(
        `${cap} budget of ${usd(capNano)} for ${period} would be crossed: spent ${usd(spentNano)} + reserved ${usd(reserved)} + this call's worst case ${usd(wanted)} = ${usd(spentNano + reserved + wanted)}`,
        cap,
      );
    }
  }
  return undefined;
}

/** Starts a new day's (month's) spend once the UTC date has moved on; open reservations carry over. */
export function rollOver(ledger: BudgetLedger, now: number): void {
  const day = dayOf(now);
  const month = monthOf(now);
  if (ledger.day.period !== day) ledger.day = { period: day, spentNano: 0 };
  if (ledger.month.period !== month) ledger.month = { period: month, spentNano: 0 };
}

function charge(ledger: BudgetLedger, nano: number): void {
  ledger.day.spentNano += nano;
  ledger.month.spentNano += nano;
}

/** Reserves a call's worst case, or throws BudgetRefusal; a repeated id returns what it reserved before. */
export function reserve(ledger: BudgetLedger, input: ReserveInput): Reservation {
  rollOver(ledger, input.now);
  expire(ledger, input.now);
  const problem = reserveProblem(ledger, input);
  if (problem) throw problem;
  ledger.caps = { ...input.caps };
  const existing = ledger.open[input.id];
  if (existing) return { id: input.id, reservedUsd: toUsd(existing.nano), repeated: true };
  if (ledger.settled[input.id] !== undefined || ledger.expired[input.id]) return { id: input.id, reservedUsd: 0, repeated: true };
  const nano = toNano(input.usd);
  ledger.open[input.id] = {
    nano,
    at: input.now,
    expiresAt: input.now + input.ttlMs,
    ...(input.estimated && { estimated: true }),
    ...(input.label !== undefined && { label: input.label }),
  };
  ledger.counters.reserved += 1;
  return { id: input.id, reservedUsd: toUsd(nano), repeated: false };
}

function settleProblem(input: SettleInput): string | undefined {
  if (typeof input.id !== 'string' || input.id.length === 0 || input.id.length > 256) return 'reservation id: must be 1-256 characters';
  if (!(Number.isFinite(input.actualUsd) && input.actualUsd >= 0)) return `actualUsd: must be a finite number ≥ 0, got ${input.actualUsd}`;
  return undefined;
}

/** Throws on input that breaks the contract (the settle update's validator). */
export function checkSettle(input: SettleInput): void {
  const problem = settleProblem(input);
  if (problem) throw new BudgetRefusal(problem);
}

/**
 * Charges a call's actual cost and releases the rest of its reservation. A second settle of the same id does
 * nothing; a settle of an id that expired puts the actual cost in place of the worst case charged; an id never seen
 * (or long forgotten) is charged its actual cost: money spent is never left out.
 */
export function settle(ledger: BudgetLedger, input: SettleInput): Settlement {
  checkSettle(input);
  rollOver(ledger, input.now);
  prune(ledger, input.now);
  const { id } = input;
  const actual = toNano(input.actualUsd);
  if (ledger.settled[id] !== undefined) return { id, chargedUsd: 0, outcome: 'repeated' };
  ledger.settled[id] = input.now;
  ledger.counters.settled += 1;
  const expired = ledger.expired[id];
  if (expired) {
    delete ledger.expired[id];
    ledger.counters.lateSettles += 1;
    // The worst case was charged in the periods it expired in; take it back where that period is still current.
    // A refund into a later period would let it spend money the earlier one already spent, so it is not made.
    const delta = actual - expired.nano;
    if (delta >= 0) {
      charge(ledger, delta);
    } else {
      if (ledger.day.period === expired.day) ledger.day.spentNano += delta;
      if (ledger.month.period === expired.month) ledger.month.spentNano += delta;
    }
    return { id, chargedUsd: toUsd(delta >= 0 || ledger.month.period === expired.month ? delta : 0), outcome: 'late' };
  }
  const outcome = ledger.open[id] ? 'settled' : 'unknown';
  if (outcome === 'unknown') ledger.counters.unknownSettles += 1;
  delete ledger.open[id];
  charge(ledger, actual);
  return { id, chargedUsd: toUsd(actual), outcome };
}

/** Charges every reservation past its TTL at its worst case (it may have been spent) and closes it. */
export function expire(ledger: BudgetLedger, now: number): string[] {
  rollOver(ledger, now);
  const closed: string[] = [];
  for (const [id, r] of Object.entries(ledger.open)) {
    if (r.expiresAt > now) continue;
    delete ledger.open[id];
    charge(ledger, r.nano);
    ledger.expired[id] = { nano: r.nano, at: now, day: ledger.day.period, month: ledger.month.period };
    ledger.counters.expired += 1;
    closed.push(id);
  }
  prune(ledger, now);
  return closed;
}

/** Forgets settled and expired ids past their retention. */
export function prune(ledger: BudgetLedger, now: number): void {
  for (const [id, at] of Object.entries(ledger.settled)) if (now - at > SETTLED_RETENTION_MS) delete ledger.settled[id];
  for (const [id, e] of Object.entries(ledger.expired)) if (now - e.at > EXPIRED_RETENTION_MS) delete ledger.expired[id];
}

/** When the next open reservation expires; undefined when none is open. */
export function nextExpiry(ledger: BudgetLedger): number | undefined {
  let next: number | undefined;
  for (const r of Object.values(ledger.open)) if (next === undefined || r.expiresAt < next) next = r.expiresAt;
  return next;
}

export interface PeriodView {
  period: string;
  /** The cap the last accepted reservation brought; null when it had none (or nothing was ever accepted). */
  capUsd: number | null;
  spentUsd: number;
  reservedUsd: number;
}

export interface BudgetView {
  tenant: string;
  day: PeriodView;
  month: PeriodView;
  reservations: { id: string; usd: number; at: string; expiresAt: string; estimated: boolean; label?: string }[];
  counters: BudgetLedger['counters'];
}

/** The ledger as `now` sees it (a new day shows nothing spent yet). */
export function budgetView(tenant: string, ledger: BudgetLedger, now: number): BudgetView {
  const spent = spentAt(ledger, now);
  const reserved = toUsd(openNano(ledger));
  return {
    tenant,
    day: { period: dayOf(now), capUsd: ledger.caps.dailyUsd ?? null, spentUsd: toUsd(spent.day), reservedUsd: reserved },
    month: { period: monthOf(now), capUsd: ledger.caps.monthlyUsd ?? null, spentUsd: toUsd(spent.month), reservedUsd: reserved },
    reservations: Object.entries(ledger.open).map(([id, r]) => ({
      id,
      usd: toUsd(r.nano),
      at: new Date(r.at).toISOString(),
      expiresAt: new Date(r.expiresAt).toISOString(),
      estimated: r.estimated === true,
      ...(r.label !== undefined && { label: r.label }),
    })),
    counters: { ...ledger.counters },
  };
}

import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Declared once; the worker, client, dev server and tests all use these keys. */
export const RoutedModel = defineSearchAttributeKey('RoutedModel', SearchAttributeType.KEYWORD);
export const FinalModel = defineSearchAttributeKey('FinalModel', SearchAttributeType.KEYWORD);
export const RoutingStrategy = defineSearchAttributeKey('RoutingStrategy', SearchAttributeType.KEYWORD);
export const Escalated = defineSearchAttributeKey('Escalated', SearchAttributeType.BOOL);
export const QualityScore = defineSearchAttributeKey('QualityScore', SearchAttributeType.DOUBLE);
export const CostUsd = defineSearchAttributeKey('CostUsd', SearchAttributeType.DOUBLE);
/** Set (true) on runs whose routed model raced a speculative partner; absent on the others. */
export const Speculative = defineSearchAttributeKey('Speculative', SearchAttributeType.BOOL);

/** The tenant a request belongs to, set by the client when it starts the run. */
export const Tenant = defineSearchAttributeKey('Tenant', SearchAttributeType.KEYWORD);

export const ROUTER_SEARCH_ATTRIBUTES = [RoutedModel, FinalModel, RoutingStrategy, Escalated, QualityScore, CostUsd, Speculative, Tenant];

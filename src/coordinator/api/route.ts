/**
 * One HTTP route = a method, a path, one schema for each of its inputs (path params, query, body) and one for its
 * answer, and a handler. As with vdsmd's verbs (src/verbs/define.ts), the same definition validates, types the
 * handler and documents the route (docs/coordinator-api.md); the server (server.ts) is a small core that matches,
 * validates and answers, and knows no route.
 */
import { z } from 'zod';
import type { CoordinatorApi } from './api.js';

/** Where /metrics reads its text (src/coordinator/observe/metrics.ts: CoordinatorMetrics). */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export interface RouteDeps {
  api: CoordinatorApi;
  metrics: MetricsSource;
}

export type Method = 'GET' | 'POST' | 'DELETE';

export interface RouteInput<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
}

interface RouteBase<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: Method;
  /** `/hosts/:id/maintenance`: a `:name` segment is a path param. */
  path: string;
  summary: string;
  params: P;
  query: Q;
  /** null: the route takes no body (one sent is ignored). */
  body: B | null;
}

/** Answers one JSON document, validated against `response` (a mismatch is the server's bug: 500). */
export interface JsonRoute<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
> extends RouteBase<P, Q, B> {
  produces: 'json';
  /** The success status (200 unless given). */
  status?: number;
  /** The status from the answer itself (/health: 503 when etcd does not answer); overrides `status`. */
  statusOf?(answer: z.output<R>): number;
  response: R;
  handler(input: RouteInput<P, Q, B>, deps: RouteDeps): Promise<z.input<R>>;
}

/** Answers newline-delimited JSON, one `response` document per line, until the client or the source ends it. */
export interface StreamRoute<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
> extends RouteBase<P, Q, B> {
  produces: 'ndjson';
  response: R;
  handler(input: RouteInput<P, Q, B>, deps: RouteDeps, signal: AbortSignal): AsyncIterable<z.input<R>>;
}

/** Answers text of its own content type (Prometheus' exposition format); `response` documents it. */
export interface TextRoute<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> extends RouteBase<P, Q, B> {
  produces: 'text';
  response: z.ZodString;
  handler(input: RouteInput<P, Q, B>, deps: RouteDeps): Promise<{ contentType: string; text: string }>;
}

export type Route = JsonRoute | StreamRoute | TextRoute;

/** No params, no query: a route that takes neither refuses `?anything` (a typo is an error, not ignored). */
export const NONE = z.strictObject({});

export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>(
  route: JsonRoute<P, Q, B, R>,
): JsonRoute<P, Q, B, R>;
export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType>(
  route: StreamRoute<P, Q, B, R>,
): StreamRoute<P, Q, B, R>;
export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  route: TextRoute<P, Q, B>,
): TextRoute<P, Q, B>;
export function defineRoute(route: Route): Route {
  return route;
}

/** The audit trail: every decision, guard, fence step and command, with alerts marked. */
import { z } from 'zod';
import { defineRoute, NONE } from '../route.js';
import { event, eventsQuery, followQuery } from '../schemas.js';

export const DEFAULT_EVENT_LIMIT = 100;

export const eventsRoute = defineRoute({
  method: 'GET',
  path: '/events',
  summary: 'Events of the audit trail, oldest first: those after `since`, the latest `limit` of them.',
  params: NONE,
  query: eventsQuery,
  body: null,
  produces: 'json',
  response: z.array(event),
  handler: ({ query }, { api }) =>
    api.events({
      ...(query.since === undefined ? {} : { since: query.since }),
      limit: query.limit ?? DEFAULT_EVENT_LIMIT,
    }),
});

export const followEventsRoute = defineRoute({
  method: 'GET',
  path: '/events/follow',
  summary:
    'Events as they are appended, as newline-delimited JSON (one event per line, `application/x-ndjson`), until the client disconnects: those after `since` first when it is given.',
  params: NONE,
  query: followQuery,
  body: null,
  produces: 'ndjson',
  response: event,
  handler: ({ query }, { api }, signal) =>
    api.followEvents(query.since === undefined ? {} : { since: query.since }, signal),
});

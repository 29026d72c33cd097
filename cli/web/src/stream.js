// Follows an execution's events over `GET /api/v1/executions/{id}/events/stream` (Server-Sent
// Events read with fetch, so the bearer token can be sent). A stream that drops before its
// `end` event is reopened after the last seq seen: no event is lost and none is shown twice.

import { authHeaders, reportDown, requestToken, toApiError, token, ApiError } from './api.js';
import { sleep } from './dom.js';

/** Splits an SSE byte stream into `{id, event, data}` messages. */
export function parseSse(buffer) {
  const messages = [];
  let rest = buffer.replace(/\r\n?/g, '\n');
  let cut;
  while ((cut = rest.indexOf('\n\n')) !== -1) {
    const block = rest.slice(0, cut);
    rest = rest.slice(cut + 2);
    const msg = { id: null, event: 'message', data: [] };
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (name === 'id') msg.id = value;
      else if (name === 'event') msg.event = value;
      else if (name === 'data') msg.data.push(value);
    }
    if (msg.data.length) messages.push({ ...msg, data: msg.data.join('\n') });
  }
  return { messages, rest };
}

/**
 * Follows execution `id` from `afterSeq`. Callbacks: `onEvent(event)` once per seq, in order;
 * `onEnd(execution)` with the final record; `onState('live' | 'reconnecting')`;
 * `onError(ApiError)` for an error the stream cannot recover from. Returns `stop()`.
 */
export function follow(id, { afterSeq = 0, onEvent, onEnd, onState, onError }) {
  const controller = new AbortController();
  const { signal } = controller;
  let last = afterSeq;

  (async () => {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const res = await fetch(
          `/api/v1/executions/${encodeURIComponent(id)}/events/stream?after_seq=${last}`,
          { headers: authHeaders({ Accept: 'text/event-stream' }), signal, cache: 'no-store' },
        );
        if (res.status === 401) {
          const err = await toApiError(res);
          if (!(await requestToken(token() ? err : null))) { onError?.(err); return; }
          continue;
        }
        if (!res.ok) { onError?.(await toApiError(res)); return; }
        failures = 0;
        onState?.('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const parsed = parseSse(buffer + value);
          buffer = parsed.rest;
          for (const msg of parsed.messages) {
            const payload = JSON.parse(msg.data);
            if (msg.event === 'end') { onEnd?.(payload); return; }
            if (typeof payload.seq !== 'number' || payload.seq <= last) continue;
            last = payload.seq;
            onEvent?.(payload);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof ApiError) { onError?.(e); return; }
        // fetch rejects with a TypeError when nothing answers: the daemon may be gone.
        if (e instanceof TypeError && failures >= 1) reportDown();
      }
      // Dropped before `end`: reopen after the last seq, backing off while the daemon is away.
      failures += 1;
      onState?.('reconnecting');
      await sleep(Math.min(250 * 2 ** Math.min(failures - 1, 4), 4000), signal);
    }
  })();

  return () => controller.abort();
}

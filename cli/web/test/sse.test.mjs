// The SSE parser of the console's event stream (src/stream.js), on the framings a server may
// use: chunks cut anywhere, CRLF line ends, comments, multi-line data.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSse } from '../src/stream.js';

test('messages split at blank lines; a partial message stays in the rest', () => {
  const { messages, rest } = parseSse('id: 1\nevent: console\ndata: {"seq":1}\n\nid: 2\nevent: val');
  assert.deepEqual(messages, [{ id: '1', event: 'console', data: '{"seq":1}' }]);
  assert.equal(rest, 'id: 2\nevent: val');
  const next = parseSse(`${rest}ue\ndata: {"seq":2}\n\n`);
  assert.deepEqual(next.messages, [{ id: '2', event: 'value', data: '{"seq":2}' }]);
  assert.equal(next.rest, '');
});

test('comments (keep-alives) and CRLF are ignored; data lines join with newlines', () => {
  const { messages } = parseSse(': keep-alive\r\n\r\nevent: end\r\ndata: {"a":\r\ndata: 1}\r\n\r\n');
  assert.deepEqual(messages, [{ id: null, event: 'end', data: '{"a":\n1}' }]);
});

test('a field without a space after the colon, and a block without data, are handled', () => {
  const { messages } = parseSse('event:x\ndata:{}\n\nid: 3\n\n');
  assert.deepEqual(messages, [{ id: null, event: 'x', data: '{}' }]);
});

// Evaluated once per session. Installs console and the timer functions, and returns the
// helpers the host calls (formatting, value description, timers) without exposing them.
(function (emit, consoleEnabled) {
  'use strict';
  const MAX_PREVIEW = 1000;
  const MAX_TEXT = 1 << 20;
  const MAX_DEPTH = 8;

  function typeName(v) {
    if (v === null) return 'null';
    const t = typeof v;
    if (t !== 'object') return t;
    if (Array.isArray(v)) return 'array';
    if (v instanceof Date) return 'date';
    if (v instanceof RegExp) return 'regexp';
    if (v instanceof Error) return 'error';
    if (v instanceof Promise) return 'promise';
    if (v instanceof Map) return 'map';
    if (v instanceof Set) return 'set';
    return 'object';
  }

  function functionText(f) {
    let name = '';
    try { name = f.name; } catch (_) { /* a throwing getter leaves it anonymous */ }
    return '[Function: ' + (name || 'anonymous') + ']';
  }

  function errorText(e) {
    let name = 'Error', message = '';
    try { name = String(e.name); message = String(e.message); } catch (_) { /* keep defaults */ }
    return message ? name + ': ' + message : name;
  }

  function dateText(d) {
    return isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString();
  }

  // Compact JSON-like text: {"a":1}, [1,2], nested strings quoted, cycles marked.
  function compact(value, limit) {
    const parts = [];
    const seen = [];
    let length = 0;
    function put(s) { parts.push(s); length += s.length; }
    function walk(v, depth) {
      if (length > limit) return;
      if (v === null) return put('null');
      switch (typeof v) {
        case 'undefined': return put('undefined');
        case 'string': return put(JSON.stringify(v));
        case 'number': case 'boolean': return put(String(v));
        case 'bigint': return put(String(v) + 'n');
        case 'symbol': return put(v.toString());
        case 'function': return put(functionText(v));
      }
      if (seen.includes(v)) return put('[Circular]');
      const type = typeName(v);
      if (type === 'date') return put(dateText(v));
      if (type === 'regexp') return put(String(v));
      if (type === 'error') return put(errorText(v));
      if (type === 'promise') return put('Promise {}');
      if (depth >= MAX_DEPTH) return put(type === 'array' ? '[Array]' : '[Object]');
      seen.push(v);
      try {
        if (type === 'array') {
          put('[');
          for (let i = 0; i < v.length && length <= limit; i++) {
            if (i) put(',');
            walk(v[i], depth + 1);
          }
          put(']');
        } else if (type === 'map' || type === 'set') {
          put((type === 'map' ? 'Map(' : 'Set(') + v.size + ') {');
          let first = true;
          for (const entry of v) {
            if (length > limit) break;
            if (!first) put(',');
            first = false;
            if (type === 'map') { walk(entry[0], depth + 1); put(' => '); walk(entry[1], depth + 1); }
            else walk(entry, depth + 1);
          }
          put('}');
        } else {
          put('{');
          let first = true;
          for (const key of Object.keys(v)) {
            if (length > limit) break;
            if (!first) put(',');
            first = false;
            put(JSON.stringify(key));
            put(':');
            let item;
            try { item = v[key]; } catch (e) { put('[Getter threw]'); continue; }
            walk(item, depth + 1);
          }
          put('}');
        }
      } finally {
        seen.pop();
      }
    }
    walk(value, 0);
    const text = parts.join('');
    return text.length > limit ? text.slice(0, limit) + '…' : text;
  }

  function consoleText(args) {
    let text = '';
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (i) text += ' ';
      const type = typeof a;
      if (type === 'string') text += a;
      // Primitives print as JavaScript prints them, without the cost of `compact`.
      else if (a === null || type === 'number' || type === 'boolean' || type === 'undefined') text += String(a);
      else if (type === 'object' && typeName(a) === 'error') text += errorText(a);
      // Each object or array is rendered up to MAX_TEXT characters (walking a huge graph
      // has to stop somewhere); strings are kept whole: max_output_kb bounds the event.
      else text += compact(a, MAX_TEXT);
    }
    return text;
  }

  const noop = function () {};
  const consoleObject = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    consoleObject[level] = consoleEnabled
      ? function (...args) { emit(level, consoleText(args)); }
      : noop;
  }
  consoleObject.trace = consoleObject.debug;
  globalThis.console = consoleObject;

  // Timers live here; the host waits for the earliest one and asks it to run.
  const timers = new Map();
  let nextTimerId = 1;
  function schedule(callback, delay, args, repeat) {
    if (typeof callback !== 'function') {
      throw new TypeError('timer callback must be a function');
    }
    delay = Number(delay);
    if (!(delay >= 1) || delay > 2147483647) delay = repeat ? 1 : 0;
    const id = nextTimerId++;
    timers.set(id, { callback, args, delay, at: Date.now() + delay, repeat });
    return id;
  }
  globalThis.setTimeout = function setTimeout(callback, delay, ...args) {
    return schedule(callback, delay, args, false);
  };
  globalThis.setInterval = function setInterval(callback, delay, ...args) {
    return schedule(callback, delay, args, true);
  };
  globalThis.clearTimeout = function clearTimeout(id) { timers.delete(id); };
  globalThis.clearInterval = function clearInterval(id) { timers.delete(id); };
  globalThis.queueMicrotask = function queueMicrotask(callback) {
    if (typeof callback !== 'function') {
      throw new TypeError('queueMicrotask callback must be a function');
    }
    Promise.resolve().then(() => callback());
  };

  return {
    describe(v) {
      const type = typeName(v);
      let preview;
      if (type === 'string') preview = v;
      else if (type === 'function') preview = functionText(v);
      else if (type === 'error') preview = errorText(v);
      else if (type === 'date') preview = dateText(v);
      else if (type === 'promise') preview = 'Promise {}';
      else if (v === null || typeof v !== 'object') preview = String(v);
      else preview = compact(v, MAX_PREVIEW);
      let json;
      if (type !== 'function' && type !== 'symbol' && type !== 'undefined') {
        try { json = JSON.stringify(v); } catch (_) { json = undefined; }
      }
      return [type, preview, json];
    },
    exception(e) {
      if (e !== null && typeof e === 'object' && typeName(e) === 'error') {
        let stack = '';
        try { stack = String(e.stack ?? ''); } catch (_) { /* no stack */ }
        let name = 'Error';
        try { name = String(e.name); } catch (_) { /* keep default */ }
        return [name, errorText(e), stack];
      }
      const text = typeof e === 'string' ? e : compact(e, MAX_PREVIEW);
      return ['Uncaught', 'Uncaught ' + text, ''];
    },
    nextTimerDelay() {
      let at = -1;
      for (const t of timers.values()) if (at < 0 || t.at < at) at = t.at;
      return at < 0 ? -1 : Math.max(0, at - Date.now());
    },
    runDueTimer() {
      const now = Date.now();
      let dueId = 0, due = null;
      for (const [id, t] of timers) {
        if (t.at <= now && (due === null || t.at < due.at)) { dueId = id; due = t; }
      }
      if (due === null) return false;
      if (due.repeat) due.at = now + due.delay; else timers.delete(dueId);
      due.callback(...due.args);
      return true;
    },
    clearTimers() { timers.clear(); },
    setGlobals(argsJson, envJson) {
      globalThis.__ARGS__ = JSON.parse(argsJson);
      globalThis.__ENV__ = JSON.parse(envJson);
    },
  };
})

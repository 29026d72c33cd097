// Evaluated once per session, before any user code. Installs console and the timer functions,
// and returns the helpers the host calls (formatting, value description, timers) without
// exposing them.
//
// Everything the helpers use is captured here, before a script can replace it: a script may
// patch `Array.prototype`, `Map.prototype.clear`, `JSON.stringify`, iterators or `instanceof`,
// and neither the host's bookkeeping nor how a value is described may change because of it.
// So: no spread, `for…of`, destructuring or array `push` (they go through patchable
// iterators and setters); values are classified by the host (`classify`, which reads internal
// slots); work lists are null-prototype objects.
(function (emit, classify, consoleEnabled) {
  'use strict';
  const MAX_PREVIEW = 1000;
  const MAX_TEXT = 1 << 20;
  const MAX_DEPTH = 8;

  const apply = Reflect.apply;
  const getOwn = Reflect.getOwnPropertyDescriptor;
  const getProto = Reflect.getPrototypeOf;
  const ownKeys = Object.keys;
  const hasOwn = Object.hasOwn;
  const toStr = String;
  const toNumber = Number;
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;
  const now = Date.now;
  const max = Math.max;
  const dateGetTime = Date.prototype.getTime;
  const dateToISOString = Date.prototype.toISOString;
  const regexpToString = RegExp.prototype.toString;
  const symbolToString = Symbol.prototype.toString;
  const mapForEach = Map.prototype.forEach;
  const setForEach = Set.prototype.forEach;
  const mapSize = getOwn(Map.prototype, 'size').get;
  const setSize = getOwn(Set.prototype, 'size').get;
  const stringSlice = String.prototype.slice;
  const TypeErrorCtor = TypeError;

  function slice(s, end) { return apply(stringSlice, s, [0, end]); }

  // A data property's value, without running getters (undefined for accessors).
  function ownData(o, key) {
    const d = getOwn(o, key);
    return d !== undefined && hasOwn(d, 'value') ? d.value : undefined;
  }

  function functionText(f) {
    let name = '';
    try { name = ownData(f, 'name'); } catch (_) { /* a throwing trap leaves it anonymous */ }
    return '[Function: ' + (typeof name === 'string' && name ? name : 'anonymous') + ']';
  }

  function errorText(e) {
    let name = 'Error', message = '';
    try { name = toStr(e.name); message = toStr(e.message); } catch (_) { /* keep defaults */ }
    return message ? name + ': ' + message : name;
  }

  function dateText(d) {
    const t = apply(dateGetTime, d, []);
    return t !== t ? 'Invalid Date' : apply(dateToISOString, d, []);
  }

  // Compact JSON-like text: {"a":1}, [1,2], nested strings quoted, cycles marked.
  function compact(value, limit) {
    let text = '';
    const seen = { __proto__: null };
    function walk(v, depth) {
      if (text.length > limit) return;
      if (v === null) { text += 'null'; return; }
      switch (typeof v) {
        case 'undefined': text += 'undefined'; return;
        case 'string': text += jsonStringify(v); return;
        case 'number': case 'boolean': text += toStr(v); return;
        case 'bigint': text += toStr(v) + 'n'; return;
        case 'symbol': text += apply(symbolToString, v, []); return;
        case 'function': text += functionText(v); return;
      }
      for (let i = 0; i < depth; i++) if (seen[i] === v) { text += '[Circular]'; return; }
      const type = classify(v);
      if (type === 'date') { text += dateText(v); return; }
      if (type === 'regexp') { text += apply(regexpToString, v, []); return; }
      if (type === 'error') { text += errorText(v); return; }
      if (type === 'promise') { text += 'Promise {}'; return; }
      if (depth >= MAX_DEPTH) { text += type === 'array' ? '[Array]' : '[Object]'; return; }
      seen[depth] = v;
      if (type === 'array') {
        text += '[';
        const length = v.length;
        for (let i = 0; i < length && text.length <= limit; i++) {
          if (i) text += ',';
          let item;
          try { item = v[i]; } catch (_) { text += '[Getter threw]'; continue; }
          walk(item, depth + 1);
        }
        text += ']';
      } else if (type === 'map' || type === 'set') {
        const isMap = type === 'map';
        text += (isMap ? 'Map(' : 'Set(') + apply(isMap ? mapSize : setSize, v, []) + ') {';
        let first = true;
        apply(isMap ? mapForEach : setForEach, v, [function (item, key) {
          if (text.length > limit) return;
          if (!first) text += ',';
          first = false;
          if (isMap) { walk(key, depth + 1); text += ' => '; }
          walk(item, depth + 1);
        }]);
        text += '}';
      } else {
        text += '{';
        const keys = ownKeys(v);
        for (let i = 0; i < keys.length && text.length <= limit; i++) {
          if (i) text += ',';
          const key = keys[i];
          text += jsonStringify(key) + ':';
          let item;
          try { item = v[key]; } catch (_) { text += '[Getter threw]'; continue; }
          walk(item, depth + 1);
        }
        text += '}';
      }
      seen[depth] = undefined;
    }
    walk(value, 0);
    return text.length > limit ? slice(text, limit) + '…' : text;
  }

  function consoleText(args) {
    let text = '';
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (i) text += ' ';
      const type = typeof a;
      if (type === 'string') text += a;
      // Primitives print as JavaScript prints them, without the cost of `compact`.
      else if (a === null || type === 'number' || type === 'boolean' || type === 'undefined') text += toStr(a);
      else if (type === 'object' && classify(a) === 'error') text += errorText(a);
      // Each object or array is rendered up to MAX_TEXT characters (walking a huge graph
      // has to stop somewhere); strings are kept whole: max_output_kb bounds the event.
      else {
        try { text += compact(a, MAX_TEXT); } catch (_) { text += '[' + classify(a) + ']'; }
      }
    }
    return text;
  }

  // The name of the function that constructed `e`, read from data properties only.
  function constructorName(e) {
    if (e === null || (typeof e !== 'object' && typeof e !== 'function')) return '';
    try {
      const proto = getProto(e);
      if (proto === null) return '';
      const ctor = ownData(proto, 'constructor');
      if (typeof ctor !== 'function') return '';
      const name = ownData(ctor, 'name');
      return typeof name === 'string' ? name : '';
    } catch (_) {
      return '';
    }
  }

  const noop = function () {};
  const consoleObject = {};
  // In the order of the host's CONSOLE_LEVELS: `emit` gets the index (no string to convert).
  const levels = ['log', 'info', 'warn', 'error', 'debug'];
  for (let i = 0; i < levels.length; i++) {
    const index = i;
    consoleObject[levels[i]] = consoleEnabled
      ? function (...args) { emit(index, consoleText(args)); }
      : noop;
  }
  consoleObject.trace = consoleObject.debug;
  globalThis.console = consoleObject;

  // Timers live here; the host waits for the earliest one and asks it to run. A
  // null-prototype object keyed by id: adding, deleting and walking it calls nothing a
  // script can replace.
  let timers = { __proto__: null };
  let timerCount = 0;
  let nextTimerId = 1;
  function schedule(callback, delay, args, repeat) {
    if (typeof callback !== 'function') {
      throw new TypeErrorCtor('timer callback must be a function');
    }
    delay = toNumber(delay);
    if (!(delay >= 1) || delay > 2147483647) delay = repeat ? 1 : 0;
    const id = nextTimerId++;
    timers[id] = { __proto__: null, callback, args, delay, at: now() + delay, repeat };
    timerCount++;
    return id;
  }
  function clear(id) {
    if (typeof id === 'number' && timers[id] !== undefined) {
      delete timers[id];
      timerCount--;
    }
  }
  globalThis.setTimeout = function setTimeout(callback, delay, ...args) {
    return schedule(callback, delay, args, false);
  };
  globalThis.setInterval = function setInterval(callback, delay, ...args) {
    return schedule(callback, delay, args, true);
  };
  globalThis.clearTimeout = function clearTimeout(id) { clear(id); };
  globalThis.clearInterval = function clearInterval(id) { clear(id); };

  return {
    // The preview of a value the host has classified as `type`.
    preview(v, type) {
      if (type === 'string') return v;
      if (type === 'function') return functionText(v);
      if (type === 'error') return errorText(v);
      if (type === 'date') return dateText(v);
      if (type === 'promise') return 'Promise {}';
      if (type === 'symbol') return apply(symbolToString, v, []);
      if (v === null || typeof v !== 'object') return toStr(v);
      return compact(v, MAX_PREVIEW);
    },
    // [name, message, stack] of a thrown value.
    exception(e, isError) {
      if (isError) {
        let stack = '';
        try { stack = toStr(e.stack ?? ''); } catch (_) { /* no stack */ }
        let name = 'Error';
        try { name = toStr(e.name); } catch (_) { /* keep default */ }
        return [name, errorText(e), stack];
      }
      let text;
      try {
        text = typeof e === 'string' ? e : compact(e, MAX_PREVIEW);
      } catch (_) {
        text = '[' + classify(e) + ']';
      }
      return [constructorName(e) || 'Uncaught', 'Uncaught ' + text, ''];
    },
    nextTimerDelay() {
      if (timerCount === 0) return -1;
      let at = -1;
      for (const id in timers) {
        const t = timers[id];
        if (at < 0 || t.at < at) at = t.at;
      }
      return at < 0 ? -1 : max(0, at - now());
    },
    runDueTimer() {
      const time = now();
      let dueId = '', due = null;
      for (const id in timers) {
        const t = timers[id];
        if (t.at <= time && (due === null || t.at < due.at)) { dueId = id; due = t; }
      }
      if (due === null) return false;
      if (due.repeat) due.at = time + due.delay;
      else { delete timers[dueId]; timerCount--; }
      apply(due.callback, undefined, due.args);
      return true;
    },
    // Whether any timer is left (after the result was described, say).
    hasTimers() { return timerCount > 0; },
    clearTimers() { timers = { __proto__: null }; timerCount = 0; },
    setGlobals(argsJson, envJson) {
      globalThis.__ARGS__ = jsonParse(argsJson);
      globalThis.__ENV__ = jsonParse(envJson);
    },
  };
})

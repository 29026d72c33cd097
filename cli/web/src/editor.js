// The code editor: CodeMirror 6 with JavaScript highlighting, indentation, bracket matching,
// undo history and search (basicSetup), and Ctrl/Cmd+Enter to run. Tab is left to the
// browser so keyboard users can move out of the editor.

import { EditorView, basicSetup } from 'codemirror';
import { keymap } from '@codemirror/view';
import { Prec } from '@codemirror/state';
import { javascript } from '@codemirror/lang-javascript';
import { oneDark } from '@codemirror/theme-one-dark';

const sizing = EditorView.theme({
  '&': { height: '100%', fontSize: '14px' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.5' },
  '&.cm-focused': { outline: '2px solid var(--accent)', outlineOffset: '-2px' },
});

/**
 * Mounts an editor in `parent`. `onRun()` is called on Ctrl/Cmd+Enter, `onChange(text)` on
 * every edit. Returns `{ view, get(), set(text), focus() }`.
 */
export function createEditor(parent, { doc = '', onRun, onChange, label = 'JavaScript code' }) {
  const view = new EditorView({
    doc,
    parent,
    extensions: [
      Prec.highest(keymap.of([{ key: 'Mod-Enter', run: () => { onRun?.(); return true; } }])),
      basicSetup,
      javascript(),
      oneDark,
      sizing,
      EditorView.contentAttributes.of({ 'aria-label': label, 'data-testid': 'editor' }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange?.(update.state.doc.toString());
      }),
    ],
  });
  return {
    view,
    get: () => view.state.doc.toString(),
    set: (text) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } }),
    focus: () => view.focus(),
  };
}

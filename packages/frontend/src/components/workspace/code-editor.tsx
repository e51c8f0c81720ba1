'use client';

import { useEffect, useRef } from 'react';
import type { CompileError } from '@builder/shared';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import {
  bracketMatching,
  defaultHighlightStyle,
  indentOnInput,
  syntaxHighlighting,
} from '@codemirror/language';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { Compartment, EditorState, Prec, type Extension } from '@codemirror/state';
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from '@codemirror/view';
import { editorLanguage, type EditorLanguage } from '@/lib/editor/editor-language';
import { verdictDiagnostics } from '@/lib/editor/verdict-diagnostics';

export interface CodeEditorProps {
  /** The file shown: picks the syntax and names the text box. */
  path: string;
  /** The text shown whenever `loadKey` changes; otherwise the editor owns its text. */
  content: string;
  /** Changes when another text is put in the editor (another file, or the same one read again). */
  loadKey: string;
  readOnly: boolean;
  /** The compile errors located in this file, shown at their line and column. */
  problems: readonly CompileError[];
  onChange: (content: string) => void;
  /** Ctrl/Cmd-S. */
  onSave: () => void;
}

/**
 * CodeMirror 6 on one file at a time. Loaded in the browser only (see `file-editor.tsx`), and each
 * language's parser only when a file of it is opened, so the page ships none of it up front.
 */
export default function CodeEditor({
  path,
  content,
  loadKey,
  readOnly,
  problems,
  onChange,
  onSave,
}: CodeEditorProps) {
  const hostRef = useRef<HTMLDivElement>(null);
  const viewRef = useRef<EditorView | null>(null);
  const compartments = useRef({ language: new Compartment(), readOnly: new Compartment() });
  // The view is made once; its handlers read the latest props through these.
  const latest = useRef({ onChange, onSave, path, content, readOnly });
  latest.current = { onChange, onSave, path, content, readOnly };

  useEffect(() => {
    const view = new EditorView({ parent: hostRef.current! });
    viewRef.current = view;
    return () => {
      view.destroy();
      viewRef.current = null;
    };
  }, []);

  // A new text starts a new state: no undo back into another file.
  useEffect(() => {
    const view = viewRef.current;
    if (!view) return;
    const { language, readOnly: readOnlySlot } = compartments.current;
    const { path: file, content: text, readOnly: locked } = latest.current;
    view.setState(
      EditorState.create({
        doc: text,
        extensions: [
          baseExtensions(latest),
          language.of([]),
          readOnlySlot.of(EditorState.readOnly.of(locked)),
          EditorView.contentAttributes.of({ 'aria-label': `Contents of ${file}` }),
        ],
      }),
    );
    let cancelled = false;
    const kind = editorLanguage(file);
    if (kind) {
      void loadLanguage(kind).then((extension) => {
        if (!cancelled && viewRef.current === view)
          view.dispatch({ effects: language.reconfigure(extension) });
      });
    }
    return () => {
      cancelled = true;
    };
  }, [loadKey]);

  useEffect(() => {
    viewRef.current?.dispatch({
      effects: compartments.current.readOnly.reconfigure(EditorState.readOnly.of(readOnly)),
    });
  }, [readOnly]);

  useEffect(() => {
    const view = viewRef.current;
    if (!view) return;
    view.dispatch(setDiagnostics(view.state, verdictDiagnostics(problems, view.state.doc)));
  }, [problems, loadKey]);

  return (
    <div
      ref={hostRef}
      className="h-[28rem] overflow-hidden rounded-md border border-gray-300 bg-white focus-within:border-gray-500"
      data-testid="code-editor"
      data-path={path}
      data-readonly={readOnly}
    />
  );
}

function baseExtensions(latest: { current: Pick<CodeEditorProps, 'onChange' | 'onSave'> }): Extension {
  return [
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    indentOnInput(),
    bracketMatching(),
    highlightActiveLine(),
    // The side panel is narrow: long lines of markup wrap rather than scroll out of sight.
    EditorView.lineWrapping,
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    lintGutter(),
    // Above every other binding, and the browser's own "save page".
    Prec.highest(
      keymap.of([
        {
          key: 'Mod-s',
          preventDefault: true,
          run: () => {
            latest.current.onSave();
            return true;
          },
        },
      ]),
    ),
    keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) latest.current.onChange(update.state.doc.toString());
    }),
    EditorView.theme({
      '&': { height: '100%', fontSize: '12px' },
      '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', lineHeight: '1.6' },
      '&.cm-focused': { outline: 'none' },
    }),
  ];
}

async function loadLanguage(kind: EditorLanguage): Promise<Extension> {
  switch (kind) {
    case 'html':
      return (await import('@codemirror/lang-html')).html();
    case 'css':
      return (await import('@codemirror/lang-css')).css();
    case 'javascript':
      return (await import('@codemirror/lang-javascript')).javascript();
    case 'jsx':
      return (await import('@codemirror/lang-javascript')).javascript({ jsx: true });
    case 'typescript':
      return (await import('@codemirror/lang-javascript')).javascript({ typescript: true });
    case 'tsx':
      return (await import('@codemirror/lang-javascript')).javascript({ typescript: true, jsx: true });
    case 'json':
      return (await import('@codemirror/lang-json')).json();
    case 'markdown':
      return (await import('@codemirror/lang-markdown')).markdown();
  }
}

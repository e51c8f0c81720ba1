import type { BuildErrorEvent, HMREvent } from '@builder/shared';
import { formatTime } from '@/lib/format/format';

const KIND_LABELS: Record<HMREvent['kind'], string> = {
  update: 'Hot update',
  'full-reload': 'Full reload',
  css: 'CSS update',
};

/** The latest hot updates and build errors the dev server reported. */
export function WorkspaceActivity({
  hmrEvents,
  buildErrors,
}: {
  hmrEvents: HMREvent[];
  buildErrors: BuildErrorEvent[];
}) {
  return (
    <div className="space-y-4">
      <section>
        <h2 className="mb-2 text-xs font-semibold uppercase tracking-wide text-gray-500">Build errors</h2>
        {buildErrors.length === 0 ? (
          <p className="text-xs text-gray-400">None</p>
        ) : (
          <ul className="space-y-2" data-testid="build-errors">
            {buildErrors.map((event, index) => (
              <li
                key={`${event.at}-${index}`}
                className="rounded border border-red-200 bg-red-50 p-2 text-xs"
              >
                <p className="font-medium text-red-800">{event.message}</p>
                {event.file && (
                  <p className="mt-0.5 font-mono text-red-700">
                    {event.file}
                    {event.line !== undefined && `:${event.line}`}
                    {event.column !== undefined && `:${event.column}`}
                  </p>
                )}
                {event.frame && (
                  <pre className="mt-1 overflow-x-auto whitespace-pre text-[11px] text-red-900">
                    {event.frame}
                  </pre>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section>
        <h2 className="mb-2 text-xs font-semibold uppercase tracking-wide text-gray-500">Hot updates</h2>
        {hmrEvents.length === 0 ? (
          <p className="text-xs text-gray-400">None yet</p>
        ) : (
          <ul className="space-y-1" data-testid="hmr-events">
            {hmrEvents.map((event, index) => (
              <li key={`${event.at}-${index}`} className="flex gap-2 text-xs text-gray-700">
                <time className="shrink-0 font-mono text-gray-400" dateTime={event.at}>
                  {formatTime(event.at)}
                </time>
                <span className="shrink-0 font-medium">{KIND_LABELS[event.kind]}</span>
                <span className="truncate font-mono" title={event.paths.join(', ')}>
                  {event.paths.join(', ') || '—'}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

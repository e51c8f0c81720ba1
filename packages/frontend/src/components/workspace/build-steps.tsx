import { BUILD_STEPS, type BuildStatusEvent, type BuildStep } from '@builder/shared';

const LABELS: Record<BuildStep, string> = {
  queued: 'Waiting for a start slot',
  creating: 'Creating the workspace',
  pulling: 'Pulling the template image',
  starting: 'Starting the container',
  // Dependencies come with the image; this step is mostly the dev server's first build.
  installing: 'Preparing the dev server',
  ready: 'Dev server ready',
  error: 'Start failed',
};

type StepState = 'done' | 'active' | 'pending' | 'failed';

const MARKS: Record<StepState, string> = { done: '✓', active: '•', pending: '○', failed: '✕' };
const MARK_COLORS: Record<StepState, string> = {
  done: 'text-emerald-600',
  active: 'text-amber-500 animate-pulse',
  pending: 'text-gray-300',
  failed: 'text-red-600',
};

/** The start-up steps in order, marked from the build-status events seen so far. */
export function BuildSteps({ events }: { events: BuildStatusEvent[] }) {
  const latest = events.at(-1);
  const failed = events.some((e) => e.step === 'error');
  const progress = events.filter((e) => e.step !== 'error');
  const currentIndex = Math.max(-1, ...progress.map((e) => BUILD_STEPS.indexOf(e.step)));
  const steps = BUILD_STEPS.filter((step) => step !== 'error');

  return (
    <ol className="space-y-2 text-sm" data-testid="build-steps">
      {steps.map((step, index) => {
        const event = events.find((e) => e.step === step);
        const state = stepState(index, currentIndex, step === 'ready', failed);
        return (
          <li
            key={step}
            className="flex items-start gap-2"
            data-testid={`build-step-${step}`}
            data-state={state}
          >
            <span className={`w-4 text-center ${MARK_COLORS[state]}`} aria-hidden>
              {MARKS[state]}
            </span>
            <span className={state === 'pending' ? 'text-gray-400' : 'text-gray-800'}>
              {LABELS[step]}
              {step === 'queued' && event?.queuePosition !== undefined && (
                <span className="text-gray-500"> (position {event.queuePosition})</span>
              )}
              {event?.message && <span className="block text-xs text-gray-500">{event.message}</span>}
            </span>
          </li>
        );
      })}
      {latest?.step === 'error' && latest.message && (
        <li className="text-xs text-red-600" data-testid="build-step-error">
          {latest.message}
        </li>
      )}
    </ol>
  );
}

function stepState(index: number, currentIndex: number, isLast: boolean, failed: boolean): StepState {
  if (index < currentIndex) return 'done';
  if (index > currentIndex) return 'pending';
  if (isLast) return 'done';
  return failed ? 'failed' : 'active';
}

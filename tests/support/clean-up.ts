/**
 * Runs every clean-up step, in order, even when one throws, then throws what failed: an app whose
 * close throws must not leave the containers, volumes or database after it in place.
 */
export async function cleanUp(steps: Array<() => unknown>): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} clean-up steps failed`);
}

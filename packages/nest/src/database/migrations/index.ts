import { InitialSchema1733000000000 } from './1733000000000-initial-schema';

/** Every migration, in order. Listed as classes so they load the same from src/ and dist/. */
export const MIGRATIONS = [InitialSchema1733000000000];

import { InitialSchema1733000000000 } from './1733000000000-initial-schema';
import { WarmPoolUser1733100000000 } from './1733100000000-warm-pool-user';
import { RestartBudget1733200000000 } from './1733200000000-restart-budget';
import { Projects1733300000000 } from './1733300000000-projects';
import { ReplicaLeases1733400000000 } from './1733400000000-replica-leases';

/** Every migration, in order. Listed as classes so they load the same from src/ and dist/. */
export const MIGRATIONS = [
  InitialSchema1733000000000,
  WarmPoolUser1733100000000,
  RestartBudget1733200000000,
  Projects1733300000000,
  ReplicaLeases1733400000000,
];

import { Resolver } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';

/**
 * Resolves a workspace's service name on the engine's DNS with c-ares, not getaddrinfo. A
 * getaddrinfo call holds one of libuv's four threadpool threads until it ends, and a name the
 * engine no longer knows (a removed workspace, still dialled by a closing relay or a retry) can
 * hold it for tens of seconds where the upstream resolver does not answer: measured in the
 * two-node test, four such lookups blocked every lookup of the process, and a new workspace's agent
 * went unanswered for ~80 s while a fresh process reached it at once. c-ares needs no thread and
 * gives up within the bound below.
 */
const resolver = new Resolver({ timeout: 1_000, tries: 2 });

/** The IPv4 address of a service name (an address is answered as is). Rejects with the resolver's code (ENOTFOUND, ETIMEOUT, …). */
export async function resolveServiceName(name: string): Promise<string> {
  if (isIP(name)) return name;
  const [address] = await resolver.resolve4(name);
  if (!address) throw Object.assign(new Error(`no address for ${name}`), { code: 'ENODATA' });
  return address;
}

/** {@link resolveServiceName} as the `lookup` of an HTTP request or socket. */
export const serviceNameLookup: LookupFunction = (hostname, options, callback) => {
  resolveServiceName(hostname).then(
    (address) => {
      if (options.all) (callback as (error: null, addresses: Array<{ address: string; family: number }>) => void)(null, [{ address, family: 4 }]);
      else callback(null, address, 4);
    },
    (error: NodeJS.ErrnoException) => callback(error, '', 4),
  );
};

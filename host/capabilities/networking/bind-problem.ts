/** Why a listener could not bind, in words an operator can act on; `inUseBy` says who else may hold the address. */
export function bindProblem(e: NodeJS.ErrnoException, inUseBy: string): string {
  switch (e.code) {
    case 'EADDRINUSE':
      return `the address is in use (${inUseBy})`;
    case 'EADDRNOTAVAIL':
      return 'no local interface has this IP';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    default:
      return e.message;
  }
}

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ValidationError } from '../domain/validation';
import { addApiKey, loadTenantsFile, tenantsFilePath, writeTenantsFile } from '../gateway/tenants';

/** `keys add --tenant T [--label L] [--tenants FILE]`: the new key on stdout, once; what happened on stderr. */
export async function keysCommand(args: string[]): Promise<void> {
  const [what, ...rest] = args;
  if (what !== 'add') throw new ValidationError('command line', [{ path: 'keys', message: `must be followed by add, got ${what === undefined ? 'nothing' : `"${what}"`}` }]);
  const { values } = parseArgs({ args: rest, options: { tenant: { type: 'string' }, label: { type: 'string' }, tenants: { type: 'string' } } });
  if (!values.tenant) throw new ValidationError('command line', [{ path: '--tenant', message: 'is required (the tenant the key belongs to)' }]);
  const path = tenantsFilePath(values.tenants);
  const current = existsSync(path) ? loadTenantsFile(path) : { tenants: [] };
  const { file, key, created } = addApiKey(current, values.tenant, { now: new Date(), ...(values.label ? { label: values.label } : {}) });
  writeTenantsFile(path, file);
  console.error(`${created ? 'created tenant' : 'added a key to tenant'} "${values.tenant}" in ${path}; the key is shown once, only its SHA-256 is kept:`);
  console.log(key);
}

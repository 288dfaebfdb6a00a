// coffer datastore list, coffer flavor list: what can be created.
import { Command } from 'commander';
import type { ListDatastoresResponse, ListFlavorsResponse } from '../../proto/gen/coffer/control/v1/catalog.js';
import { act } from '../context.js';

export function datastoreCommand(): Command {
  const cmd = new Command('datastore').description('datastores and their versions');
  cmd
    .command('list')
    .description('list the datastores instances can run')
    .action(
      act(async ({ conn, out }) => {
        const r = await conn.unary<ListDatastoresResponse>((md, o, cb) => conn.catalog.listDatastores({}, md, o, cb));
        out.table(['NAME', 'DEFAULT VERSION', 'VERSIONS'], r.datastores.map((d) => [d.name, d.defaultVersion, d.versions.join(', ')]), r.datastores);
      }),
    );
  return cmd;
}

export function flavorCommand(): Command {
  const cmd = new Command('flavor').description('instance sizes');
  cmd
    .command('list')
    .description('list the flavors')
    .action(
      act(async ({ conn, out }) => {
        const r = await conn.unary<ListFlavorsResponse>((md, o, cb) => conn.catalog.listFlavors({}, md, o, cb));
        out.table(['ID', 'NAME', 'VCPUS', 'RAM'], r.flavors.map((f) => [f.id, f.name, String(f.vcpus), `${f.ramMb} MB`]), r.flavors);
      }),
    );
  return cmd;
}

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { isPromoteError } from '../../src/errors.ts';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { open } from './http-fixtures.ts';

// A registry that answers every tag-list page with another rel="next" must not make promote
// read without bound (`promote run` lists tags on every pass): the limit covers all pages.
// A real registry behind a fault-injecting proxy that stages the endless pagination.

let reg: RegistryServer;
let proxy: FaultProxy;
let pages = 0;
const page = JSON.stringify({ name: 'limits/tags', tags: Array.from({ length: 100_000 }, (_, i) => `tag-${String(i).padStart(34, '0')}`) });
before(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url, (q) => {
    if (!q.path.startsWith('/v2/limits/tags/tags/list')) return undefined;
    pages++;
    return { status: 200, body: page, headers: { 'content-type': 'application/json', link: `</v2/limits/tags/tags/list?last=p${pages}&n=100000>; rel="next"` } };
  });
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
});

test('an endless tag listing (each ~4 MiB page naming a next one) is refused once all pages together pass 64 MiB', async () => {
  assert.ok(page.length > 4_000_000);
  const r = open({ host: proxy.host, url: proxy.url }, 'limits/tags');
  await assert.rejects(r.listTags(), (err: unknown) => {
    assert.ok(isPromoteError(err), String(err));
    assert.equal(err.code, 'TOO_LARGE', err.message);
    assert.match(err.message, /tag list of/);
    return true;
  });
  assert.ok(pages <= Math.ceil((64 * 1024 * 1024) / page.length) + 1, `read ${pages} pages`);
});

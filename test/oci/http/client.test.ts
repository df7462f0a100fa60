import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RepositoryClient } from '../../../src/oci/http/client.ts';

test('credentials go only to the registry origin: not to another host, another port, or the same host over plain http', () => {
  const client = new RepositoryClient('registry.example.com', 'acme/webapp', { env: {} });
  assert.equal(client.sendsCredentialsTo('https://registry.example.com/v2/acme/webapp/blobs/uploads/'), true);
  assert.equal(client.sendsCredentialsTo('https://registry.example.com:443/v2/acme/webapp/manifests/1'), true);
  assert.equal(client.sendsCredentialsTo('http://registry.example.com/v2/acme/webapp/blobs/sha256:00'), false);
  assert.equal(client.sendsCredentialsTo('https://registry.example.com:8443/v2/'), false);
  assert.equal(client.sendsCredentialsTo('https://storage.example.net/blob?sig=x'), false);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promote } from './run-promote.ts';

// The trust options shared by `promote verify` and `render --verify` are checked before any
// registry or file is read: each mistake is a usage error (exit 2) that says what to pass.

const REF = 'oci:./nowhere:1.0';

test('verify and render --verify refuse missing, half-keyless and malformed trust options with exit 2 and a hint', async () => {
  const cases: [string[], RegExp][] = [
    [['verify', REF], /verify needs --key <public key> or a keyless identity[\s\S]*--key ci\.pub/],
    [['render', REF, '--env', 'dev', '--verify'], /--verify needs --key <public key> or a keyless identity[\s\S]*--verify --key ci\.pub/],
    [['verify', REF, '--certificate-identity', 'ci@example.com'], /keyless verification needs both an identity and an issuer/],
    [['render', REF, '--env', 'dev', '--verify', '--certificate-oidc-issuer', 'https://issuer.example'], /keyless verification needs both an identity and an issuer/],
    [['verify', REF, '--certificate-identity-regexp', '(', '--certificate-oidc-issuer', 'https://issuer.example'], /--certificate-identity-regexp is not a valid regular expression/],
    [['render', REF, '--env', 'dev', '--verify', '--certificate-identity', 'a', '--certificate-oidc-issuer-regexp', '['], /--certificate-oidc-issuer-regexp is not a valid regular expression/],
    [['render', REF, '--env', 'dev', '--key', 'ci.pub'], /--key and the keyless options only take effect with --verify/],
    [['render', REF, '--env', 'dev', '--trusted-root', 'root.json'], /--key and the keyless options only take effect with --verify/],
  ];
  for (const [args, message] of cases) {
    const run = await promote(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(' '));
    assert.equal(run.stdout, '', args.join(' '));
  }
});

import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  checkMemberPath,
  extractTarMember,
  listTarMembers,
  readTarMember,
  TarWriter,
} from '../../electron/services/case-store/tar-archive';
import { datasetImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { writeCraftedTar } from '../fixtures/case-store/craft-tar';

async function refusal(file: string): Promise<{ code: string; message: string }> {
  try {
    await listTarMembers(file);
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('the archive was accepted');
}

describe('TarWriter and listTarMembers', () => {
  it('round-trips files byte for byte, and GNU tar reads what it writes', async () => {
    const dir = tempDir('case-tar');
    const image = datasetImages(1)[0];
    const archive = path.join(dir, 'a.tar');
    const writer = await TarWriter.create(archive);
    await writer.addBuffer('manifest.json', Buffer.from('{"hello":"world"}'));
    const hash = crypto.createHash('sha256');
    await writer.addFile('evidence/img.png', image, fs.statSync(image).size, (c) => hash.update(c));
    await writer.finish();
    expect(hash.digest('hex')).toBe(crypto.createHash('sha256').update(fs.readFileSync(image)).digest('hex'));

    const members = await listTarMembers(archive);
    expect(members.map((m) => m.name)).toEqual(['manifest.json', 'evidence/img.png']);
    expect((await readTarMember(archive, members[0], 1024)).toString()).toBe('{"hello":"world"}');
    const out = path.join(dir, 'out.png');
    await extractTarMember(archive, members[1], out, () => undefined);
    expect(fs.readFileSync(out).equals(fs.readFileSync(image))).toBe(true);

    expect(execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).trim().split('\n')).toEqual([
      'manifest.json',
      'evidence/img.png',
    ]);
  });

  it('refuses to overwrite an existing archive file', async () => {
    const file = path.join(tempDir('case-tar'), 'exists.tar');
    fs.writeFileSync(file, 'keep me');
    await expect(TarWriter.create(file)).rejects.toThrow(/EEXIST/);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
  });
});

describe('hostile archives are refused before anything is extracted', () => {
  const dir = tempDir('case-tar-hostile');
  const cases: { what: string; members: Parameters<typeof writeCraftedTar>[1]; code: string; message: RegExp }[] = [
    { what: 'a ../ path', members: [{ name: '../evil.txt', data: 'x' }], code: 'ARCHIVE_HOSTILE_PATH', message: /climbs out/ },
    { what: 'a nested ../ path', members: [{ name: 'evidence/../../evil', data: 'x' }], code: 'ARCHIVE_HOSTILE_PATH', message: /climbs out/ },
    { what: '.. hidden in the ustar prefix', members: [{ name: 'evil', prefix: '..', data: 'x' }], code: 'ARCHIVE_HOSTILE_PATH', message: /climbs out/ },
    { what: 'an absolute path', members: [{ name: '/tmp/evil', data: 'x' }], code: 'ARCHIVE_HOSTILE_PATH', message: /absolute/ },
    { what: 'a Windows drive path', members: [{ name: 'C:/evil', data: 'x' }], code: 'ARCHIVE_HOSTILE_PATH', message: /drive/ },
    { what: 'a backslash path', members: [{ name: '..\\evil', data: 'x' }], code: 'ARCHIVE_HOSTILE_PATH', message: /backslash/ },
    { what: 'a symlink', members: [{ name: 'evidence/link', type: '2', linkName: '/etc/passwd' }], code: 'ARCHIVE_LINK_MEMBER', message: /symbolic link/ },
    { what: 'a hard link', members: [{ name: 'evidence/hard', type: '1', linkName: '/etc/passwd' }], code: 'ARCHIVE_LINK_MEMBER', message: /hard link/ },
    { what: 'a character device', members: [{ name: 'evidence/dev', type: '3' }], code: 'ARCHIVE_SPECIAL_MEMBER', message: /character device/ },
    { what: 'a FIFO', members: [{ name: 'evidence/fifo', type: '6' }], code: 'ARCHIVE_SPECIAL_MEMBER', message: /FIFO/ },
    { what: 'a pax header', members: [{ name: 'PaxHeader/x', type: 'x', data: '30 path=../../evil\n' }], code: 'ARCHIVE_SPECIAL_MEMBER', message: /pax/ },
    {
      what: 'a duplicate member',
      members: [
        { name: 'case.json', data: '{}' },
        { name: 'case.json', data: '{"x":1}' },
      ],
      code: 'ARCHIVE_INVALID',
      message: /appears twice/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.what}`, async () => {
      const file = writeCraftedTar(path.join(dir, `${crypto.randomUUID()}.tar`), [{ name: 'manifest.json', data: '{}' }, ...c.members]);
      const e = await refusal(file);
      expect(e.code).toBe(c.code);
      expect(e.message).toMatch(c.message);
    });
  }

  it('refuses a symlink archived by GNU tar itself', async () => {
    const src = tempDir('case-tar-gnu');
    fs.symlinkSync('/etc/passwd', path.join(src, 'passwd-link'));
    const file = path.join(dir, 'gnu-symlink.tar');
    execFileSync('tar', ['--format=ustar', '-cf', file, '-C', src, 'passwd-link']);
    const e = await refusal(file);
    expect(e.code).toBe('ARCHIVE_LINK_MEMBER');
  });

  it('refuses a truncated archive and a corrupted header', async () => {
    const good = writeCraftedTar(path.join(dir, 'good.tar'), [{ name: 'manifest.json', data: 'x'.repeat(2000) }]);
    const truncated = path.join(dir, 'truncated.tar');
    fs.writeFileSync(truncated, fs.readFileSync(good).subarray(0, 1024));
    expect((await refusal(truncated)).code).toBe('ARCHIVE_INVALID');
    const corrupted = path.join(dir, 'corrupted.tar');
    const bytes = fs.readFileSync(good);
    bytes[0] ^= 0xff;
    fs.writeFileSync(corrupted, bytes);
    expect((await refusal(corrupted)).message).toMatch(/checksum/);
  });

  it('checkMemberPath accepts the names a case archive uses', () => {
    expect(() => checkMemberPath('evidence/' + 'a'.repeat(64) + '.png')).not.toThrow();
    expect(() => checkMemberPath('evidence/')).not.toThrow();
    expect(() => checkMemberPath('./x')).toThrow(/"\." segment/);
    expect(() => checkMemberPath('')).toThrow(/empty/);
  });
});

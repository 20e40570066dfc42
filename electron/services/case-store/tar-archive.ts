// A minimal ustar writer and a suspicious reader: case archives hold only plain files under a few
// fixed names, so the reader refuses links, devices, extension headers and any path that could escape.
import fs from 'node:fs';
import { CaseStoreError } from './case-store-error';

const BLOCK = 512;

function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new CaseStoreError('INVALID_ARGUMENT', `tar field too long: ${value}`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new CaseStoreError('INVALID_ARGUMENT', `tar number too large: ${value}`);
  writeString(buf, offset, length, digits.padStart(length - 1, '0') + '\0');
}

export function tarHeader(entry: { name: string; size: number; mtime?: Date; mode?: number }): Buffer {
  const name = Buffer.from(entry.name, 'utf8');
  if (name.length > 100) throw new CaseStoreError('INVALID_ARGUMENT', `tar member name too long: ${entry.name}`);
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0);
  writeOctal(h, 100, 8, entry.mode ?? 0o444);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, entry.size);
  writeOctal(h, 136, 12, Math.floor((entry.mtime ?? new Date()).getTime() / 1000));
  h.write('        ', 148, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** Streams members into a tar file; each member's bytes come from a callback that writes them. */
export class TarWriter {
  private position = 0;
  private constructor(private readonly handle: fs.promises.FileHandle) {}

  static async create(file: string): Promise<TarWriter> {
    return new TarWriter(await fs.promises.open(file, 'wx', 0o644));
  }

  async addBuffer(name: string, data: Uint8Array, mtime?: Date): Promise<void> {
    await this.write(tarHeader({ name, size: data.length, mtime }));
    await this.write(data);
    await this.pad();
  }

  /** Copies a file in, handing every chunk to `onChunk` (to hash it on the way) and checking its size. */
  async addFile(name: string, file: string, expectedSize: number, onChunk: (chunk: Buffer) => void): Promise<void> {
    const input = await fs.promises.open(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    try {
      const st = await input.stat();
      if (!st.isFile() || st.size !== expectedSize) {
        throw new CaseStoreError('ARCHIVE_HASH_MISMATCH', `${name} is ${st.size} bytes; the record says ${expectedSize}.`, {
          member: name,
        });
      }
      await this.write(tarHeader({ name, size: st.size, mtime: st.mtime }));
      const buf = Buffer.allocUnsafe(1 << 20);
      let copied = 0;
      for (;;) {
        const { bytesRead } = await input.read(buf, 0, Math.min(buf.length, expectedSize - copied), null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        onChunk(chunk);
        await this.write(chunk);
        copied += bytesRead;
      }
      if (copied !== expectedSize) {
        throw new CaseStoreError('ARCHIVE_HASH_MISMATCH', `${name} shrank while being archived.`, { member: name });
      }
      await this.pad();
    } finally {
      await input.close();
    }
  }

  async finish(): Promise<number> {
    await this.write(Buffer.alloc(BLOCK * 2));
    await this.handle.sync();
    await this.handle.close();
    return this.position;
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }

  private async write(data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, this.position + done);
      done += bytesWritten;
    }
    this.position += data.length;
  }

  private async pad(): Promise<void> {
    const rest = this.position % BLOCK;
    if (rest) await this.write(Buffer.alloc(BLOCK - rest));
  }
}

export interface TarMember {
  name: string;
  /** Byte offset of the member's data in the archive. */
  offset: number;
  size: number;
}

/** Refuses any member name that could land outside the extraction folder, on any platform. */
export function checkMemberPath(name: string): void {
  const hostile = (why: string) =>
    new CaseStoreError('ARCHIVE_HOSTILE_PATH', `Archive member ${JSON.stringify(name)} ${why}; the archive is refused.`, {
      member: name,
    });
  if (name.length === 0) throw hostile('has an empty name');
  if (name.includes('\0')) throw hostile('contains a NUL byte');
  if (name.startsWith('/') || name.startsWith('\\')) throw hostile('is an absolute path');
  if (/^[A-Za-z]:/.test(name)) throw hostile('names a drive');
  if (name.includes('\\')) throw hostile('contains a backslash');
  if (name.split('/').some((seg) => seg === '..')) throw hostile('climbs out with ".."');
  if (name.split('/').some((seg) => seg === '.')) throw hostile('contains a "." segment');
}

function readString(h: Buffer, offset: number, length: number): string {
  const field = h.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readOctal(h: Buffer, offset: number, length: number, what: string): number {
  const field = h.subarray(offset, offset + length);
  if (field[0] & 0x80) throw new CaseStoreError('ARCHIVE_INVALID', `The archive uses a binary ${what} field; not a case archive.`);
  const text = readString(h, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new CaseStoreError('ARCHIVE_INVALID', `The archive has a malformed ${what} field.`);
  return text ? parseInt(text, 8) : 0;
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  x: 'a pax extended header',
  g: 'a pax global header',
  L: 'a GNU long name',
  K: 'a GNU long link name',
};

/**
 * Lists the members of a tar file, reading headers only. Every member is checked before the caller
 * writes anything: plain files with safe, unique names, inside the file's bounds, or the whole archive is refused.
 */
export async function listTarMembers(file: string): Promise<TarMember[]> {
  const handle = await fs.promises.open(file, fs.constants.O_RDONLY);
  try {
    const { size: fileSize } = await handle.stat();
    const members: TarMember[] = [];
    const names = new Set<string>();
    const header = Buffer.alloc(BLOCK);
    let position = 0;
    for (;;) {
      if (position + BLOCK > fileSize) {
        throw new CaseStoreError('ARCHIVE_INVALID', 'The archive ends without its end-of-archive marker (truncated).');
      }
      await handle.read(header, 0, BLOCK, position);
      if (header.every((b) => b === 0)) break;
      const stored = readOctal(header, 148, 8, 'checksum');
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
      if (sum !== stored) throw new CaseStoreError('ARCHIVE_INVALID', `Bad tar header checksum at byte ${position}.`);
      if (readString(header, 257, 6) !== 'ustar') {
        throw new CaseStoreError('ARCHIVE_INVALID', `Not a ustar archive (header at byte ${position}).`);
      }
      const prefix = readString(header, 345, 155);
      const rawName = readString(header, 0, 100);
      const name = prefix ? `${prefix}/${rawName}` : rawName;
      const type = String.fromCharCode(header[156] || 0x30);
      const size = readOctal(header, 124, 12, 'size');
      checkMemberPath(name);
      if (type === '1' || type === '2') {
        throw new CaseStoreError('ARCHIVE_LINK_MEMBER', `Archive member ${JSON.stringify(name)} is ${TYPE_NAMES[type]}; the archive is refused.`, {
          member: name,
          linkTarget: readString(header, 157, 100),
        });
      }
      if (type !== '0' && type !== '5') {
        throw new CaseStoreError(
          'ARCHIVE_SPECIAL_MEMBER',
          `Archive member ${JSON.stringify(name)} is ${TYPE_NAMES[type] ?? `of tar type ${JSON.stringify(type)}`}; the archive is refused.`,
          { member: name, type },
        );
      }
      const dataOffset = position + BLOCK;
      if (dataOffset + size > fileSize) {
        throw new CaseStoreError('ARCHIVE_INVALID', `Archive member ${JSON.stringify(name)} runs past the end of the file.`);
      }
      if (type === '0') {
        if (names.has(name)) {
          throw new CaseStoreError('ARCHIVE_INVALID', `Archive member ${JSON.stringify(name)} appears twice.`, { member: name });
        }
        names.add(name);
        members.push({ name, offset: dataOffset, size });
      }
      position = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    }
    return members;
  } finally {
    await handle.close();
  }
}

export async function readTarMember(file: string, member: TarMember, maxBytes: number): Promise<Buffer> {
  if (member.size > maxBytes) {
    throw new CaseStoreError('ARCHIVE_INVALID', `Archive member ${member.name} is larger than ${maxBytes} bytes.`);
  }
  const handle = await fs.promises.open(file, fs.constants.O_RDONLY);
  try {
    const buf = Buffer.alloc(member.size);
    let done = 0;
    while (done < member.size) {
      const { bytesRead } = await handle.read(buf, done, member.size - done, member.offset + done);
      if (bytesRead === 0) throw new CaseStoreError('ARCHIVE_INVALID', `Archive member ${member.name} is truncated.`);
      done += bytesRead;
    }
    return buf;
  } finally {
    await handle.close();
  }
}

/** Copies one member's bytes to `target` (created new, never overwritten), handing chunks to `onChunk`. */
export async function extractTarMember(
  file: string,
  member: TarMember,
  target: string,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  const input = await fs.promises.open(file, fs.constants.O_RDONLY);
  try {
    const output = await fs.promises.open(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0), 0o600);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      let done = 0;
      while (done < member.size) {
        const { bytesRead } = await input.read(buf, 0, Math.min(buf.length, member.size - done), member.offset + done);
        if (bytesRead === 0) throw new CaseStoreError('ARCHIVE_INVALID', `Archive member ${member.name} is truncated.`);
        const chunk = buf.subarray(0, bytesRead);
        onChunk(chunk);
        await output.write(chunk, 0, bytesRead);
        done += bytesRead;
      }
      await output.sync();
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

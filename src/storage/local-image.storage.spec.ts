import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalImageStorage } from './local-image.storage';

describe('LocalImageStorage', () => {
  let root: string;
  let storage: LocalImageStorage;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cards-storage-'));
    storage = new LocalImageStorage(join(root, 'uploads'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('writes, finds and deletes a key, leaving no temporary file behind', async () => {
    const key = 'images/c1/i1.png';
    await storage.put(key, Buffer.from('abc'), 'image/png');
    expect(await storage.exists(key)).toBe(true);
    expect(await readFile(join(root, 'uploads', key), 'utf8')).toBe('abc');
    expect(await readdir(join(root, 'uploads', 'images', 'c1'))).toEqual(['i1.png']);

    await storage.delete(key);
    expect(await storage.exists(key)).toBe(false);
    await expect(storage.delete(key)).resolves.toBeUndefined();
  });

  it('removes its temporary file when the final rename fails', async () => {
    await mkdir(join(root, 'uploads', 'images', 'taken.png'), { recursive: true });
    await expect(storage.put('images/taken.png', Buffer.from('abc'), 'image/png')).rejects.toThrow();
    expect(await readdir(join(root, 'uploads', 'images'))).toEqual(['taken.png']);
  });

  it('reports a missing key as absent', async () => {
    expect(await storage.exists('images/none.png')).toBe(false);
  });

  it.each([
    ['a parent segment', 'images/../../etc/passwd'],
    ['a bare parent', '..'],
    ['an absolute path', '/etc/passwd'],
    ['backslashes', 'images\\..\\x.png'],
    ['an empty segment', 'images//x.png'],
    ['a trailing slash', 'images/'],
    ['no characters', ''],
    ['a dot segment', 'images/./x.png'],
    ['a hidden file name', 'images/.x.png'],
    ['a control character', 'images/x\n.png'],
    ['over 255 characters', `images/${'a'.repeat(300)}.png`],
  ])('refuses a key with %s, writing nothing', async (_name, key) => {
    await expect(storage.put(key, Buffer.from('x'), 'image/png')).rejects.toThrow(/storage key/i);
    await expect(storage.exists(key)).rejects.toThrow(/storage key/i);
    await expect(storage.delete(key)).rejects.toThrow(/storage key/i);
    expect(await readdir(root)).toEqual([]);
  });
});

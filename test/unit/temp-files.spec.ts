import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { renameOver, TEMP_PREFIX, tempBeside } from '../../src/plugins/home-dirs/temp-files';

describe('renameOver', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'strata-rename-'));
  const settle = async () => {
    for (let i = 0; i < 50 && readdirSync(dir).some((n) => n.startsWith(TEMP_PREFIX)); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it('replaces a file and leaves no second name behind', async () => {
    const target = path.join(dir, 'a.txt');
    writeFileSync(target, 'old');
    const temp = tempBeside(target, 'put');
    expect(path.basename(temp).startsWith(`${TEMP_PREFIX}put-`)).toBe(true);
    writeFileSync(temp, 'new');
    await renameOver(temp, target);
    expect(readFileSync(target, 'utf8')).toBe('new');
    await settle();
    expect(readdirSync(dir)).toEqual(['a.txt']);
  });

  it('puts a file where there was none', async () => {
    const target = path.join(dir, 'b.txt');
    const temp = tempBeside(target, 'put');
    writeFileSync(temp, 'first');
    await renameOver(temp, target);
    expect(readFileSync(target, 'utf8')).toBe('first');
    expect(existsSync(temp)).toBe(false);
  });

  it('lets two replacements of one file race: one of them wins whole, no temp name stays', async () => {
    const target = path.join(dir, 'raced.txt');
    writeFileSync(target, 'old');
    const temps = ['one', 'two'].map((body) => {
      const temp = tempBeside(target, 'put');
      writeFileSync(temp, body.repeat(1000));
      return temp;
    });
    await Promise.all(temps.map((temp) => renameOver(temp, target)));
    expect(['one'.repeat(1000), 'two'.repeat(1000)]).toContain(readFileSync(target, 'utf8'));
    await settle();
    expect(readdirSync(dir).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
  });

  it('leaves the old file in place when the rename fails', async () => {
    const target = path.join(dir, 'c.txt');
    writeFileSync(target, 'kept');
    await expect(renameOver(path.join(dir, 'missing'), target)).rejects.toMatchObject({ code: 'ENOENT' });
    await settle();
    expect(readFileSync(target, 'utf8')).toBe('kept');
    expect(readdirSync(dir).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
  });
});

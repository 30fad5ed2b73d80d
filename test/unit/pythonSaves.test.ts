/** findSaveCalls (src/extension/pythonSaves.ts): the save calls of a training script and their folders. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findSaveCalls } from '../../src/extension/pythonSaves';

const SCRIPT = `import os
import torch
from pathlib import Path
from safetensors.torch import save_file

out_dir = "runs/grassmann-small"
ckpt_root: str = 'checkpoints'
run_name = f"{ckpt_root}/exp1"
base = Path("artifacts") / "tiny"

def save(model, cfg, epoch, val_loss):
    torch.save({"model_state_dict": model.state_dict(), "epoch": epoch}, f"{out_dir}/epoch_{epoch}.pt")
    torch.save(model.state_dict(), os.path.join(out_dir, "best.pt"))
    torch.save(model.state_dict(), 'plain/dir/best.pt')
    torch.save(obj=model.state_dict(),
               f=f"{run_name}/step_{epoch:05d}.pt")
    save_file(model.state_dict(), base / f"model_{epoch}.safetensors", metadata={"epoch": str(epoch)})
    torch.save(model, cfg.output_path)  # unknown: asks
    torch.save(model, f"{cfg.out}/last.pt")
    torch.save(model, "best.pt")
    # torch.save(model, "commented/out.pt")
    print("torch.save(model, 'in/a/string.pt')")
`;

describe('findSaveCalls', () => {
  const calls = findSaveCalls(SCRIPT);

  test('finds every call in code (not in comments or strings), with its line', () => {
    assert.deepEqual(calls.map((c) => [c.line, c.call]), [
      [11, 'torch.save'], [12, 'torch.save'], [13, 'torch.save'], [14, 'torch.save'],
      [16, 'save_file'], [17, 'torch.save'], [18, 'torch.save'], [19, 'torch.save'],
    ]);
    assert.equal(calls[0].character, 4);
  });

  test('resolves literals, f-strings over assigned names, os.path.join, Path / ..., keyword arguments', () => {
    assert.deepEqual(calls.map((c) => c.folder), [
      'runs/grassmann-small',
      'runs/grassmann-small',
      'plain/dir',
      'checkpoints/exp1',
      'artifacts/tiny',
      undefined,
      undefined,
      '.',
    ]);
    assert.equal(calls[3].pathText, 'f"{run_name}/step_{epoch:05d}.pt"');
    assert.equal(calls[5].pathText, 'cfg.output_path');
  });

  test('an assignment after the call does not count; a file without calls gives none', () => {
    const later = findSaveCalls('torch.save(m, f"{d}/x.pt")\nd = "late"\n');
    assert.equal(later.length, 1);
    assert.equal(later[0].folder, undefined);
    assert.deepEqual(findSaveCalls('x = 1\nprint(x)\n'), []);
  });
});

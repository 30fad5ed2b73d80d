/** The Python interpreter with PyTorch for the round-trip tests (CI installs Debian's python3-torch). */
import { execFileSync } from 'node:child_process';

function findTorchPython(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
      return py;
    } catch {
      // try the next interpreter
    }
  }
  return undefined;
}

/** An interpreter that imports torch, or undefined. */
export const TORCH_PYTHON = findTorchPython();

/** The `skip` option of a test that needs it: false when PyTorch is there, else why not. */
export const NO_TORCH: false | string = TORCH_PYTHON
  ? false
  : 'PyTorch is not installed (`python3 -c "import torch"` fails); apt-get install -y python3-torch to run it';

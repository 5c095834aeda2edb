"""NumPy's floating-point warnings raised inside gpubp stay silent, as PyTorch is; a user's own NumPy code still warns."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import numpy as np
import gpubp
x = gpubp.tensor([0.0, 1.0, -1.0], requires_grad=True)
y = x.log() + x / 0 + (x.exp() * 1e38 * 1e38)   # -inf, nan, inf: silent, as in PyTorch
y.sum().backward()
gpubp.nn.functional.softmax(gpubp.tensor([[1e30, -1e30]]), 1)
try:
    np.log(np.zeros(1))                          # the user's own NumPy call: still warns (an error under -W error)
except RuntimeWarning as e:
    print("user warning:", e)
"""


def test_numpy_floating_point_warnings_do_not_leak_from_gpubp() -> None:
    r = subprocess.run([sys.executable, "-W", "error", "-c", PROGRAM], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "user warning: divide by zero encountered in log"

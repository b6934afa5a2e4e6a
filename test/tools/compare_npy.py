"""compare_npy.py A.npy B.npy TOL: fails when max|A-B| / max|A| > TOL."""
import sys
import numpy as np

a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
tol = float(sys.argv[3])
if a.shape != b.shape:
    sys.exit(f"shapes differ: {a.shape} vs {b.shape}")
err = float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30))
print(f"relative max error {err:.3g}")
if err > tol:
    sys.exit(f"relative max error {err:.3g} exceeds {tol}")

"""check_cuda_info.py PTX: runs qrt-cuda-info --ptx PTX and checks the outcome
that fits this machine. With a GPU, every kernel of the module must load
through the driver's JIT. Without one, the tool must exit 1 with a one-line
reason naming the missing driver or device, and no crash."""
import re
import subprocess
import sys

ptx = sys.argv[1]
kernels = re.findall(r"\.entry (\w+)\(", open(ptx).read())
r = subprocess.run(["qrt-cuda-info", "--ptx", ptx], capture_output=True, text=True)
if r.returncode == 0:
    if not re.match(r"device 0: .+, sm_\d+\n", r.stdout):
        sys.exit(f"unexpected device line: {r.stdout!r}")
    loaded = re.findall(r"kernel (\w+): loaded", r.stdout)
    if sorted(loaded) != sorted(kernels):
        sys.exit(f"kernels loaded {loaded}, module has {kernels}")
    print(f"GPU present: {len(loaded)} kernels loaded")
else:
    lines = r.stderr.strip().splitlines()
    reasons = ("no NVIDIA driver: cannot load libcuda.so.1", "the NVIDIA driver failed to initialize",
               "no CUDA device found")
    if r.returncode != 1 or len(lines) != 1 or not any(x in lines[0] for x in reasons):
        sys.exit(f"rc {r.returncode}, stderr {r.stderr!r}")
    print("no GPU:", lines[0])

"""numpy transcriptions of the packed quantized-linear formats that Hugging
Face checkpoints carry, for tests of qopt's exporter and importer.

- AutoGPTQ v1 (auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py: pack() and
  the dequantization of its torch forward): qweight [in*b/32, out], qzeros
  [groups, out*b/32] holding zero - 1, scales f16 [groups, out], g_idx [in].
- AutoAWQ GEMM (awq/modules/linear/gemm.py from_linear() and
  awq/utils/packing_utils.py unpack_awq / reverse_awq_order /
  dequantize_gemm): qweight [in, out/8] and qzeros [groups, out/8], packed
  along out in the order [0 2 4 6 1 3 5 7]; zeros as they are.
"""
import json
import struct

import numpy as np

from .hf_export import write_safetensors_raw

AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]


def autogptq_pack(intweight, zeros, bits):
    """pack() of qlinear_cuda_old: intweight [in, out] codes, zeros [groups, out]."""
    intweight = intweight.astype(np.uint32)
    qweight = np.zeros((intweight.shape[0] // 32 * bits, intweight.shape[1]), dtype=np.uint32)
    i, row = 0, 0
    while row < qweight.shape[0]:
        for j in range(i, i + (32 // bits)):
            qweight[row] |= intweight[j] << (bits * (j - i))
        i += 32 // bits
        row += 1
    zeros = (zeros - 1).astype(np.uint32)  # a zero point of 0 wraps, as in AutoGPTQ
    qzeros = np.zeros((zeros.shape[0], zeros.shape[1] // 32 * bits), dtype=np.uint32)
    i, col = 0, 0
    while col < qzeros.shape[1]:
        for j in range(i, i + (32 // bits)):
            qzeros[:, col] |= zeros[:, j] << (bits * (j - i))
        i += 32 // bits
        col += 1
    return qweight.view(np.int32), qzeros.view(np.int32)


def autogptq_unpack(qweight, qzeros, scales, g_idx, bits, zero_offset=1):
    """The dequantization of qlinear_cuda_old's forward: ([out, in] weight,
    intweight [in, out], zeros [groups, out]). zero_offset 0 reads the
    gptq_v2 format, which stores the zero points themselves."""
    wf = np.arange(0, 32, bits, dtype=np.uint32)
    maxq = (1 << bits) - 1
    z = (qzeros.view(np.uint32)[:, :, None] >> wf[None, None, :]) & maxq
    zeros = z.reshape(scales.shape).astype(np.int64) + zero_offset
    w = (qweight.view(np.uint32)[:, None, :] >> wf[None, :, None]) & maxq
    intweight = w.reshape(-1, w.shape[-1]).astype(np.int64)  # [in, out]
    s = scales.astype(np.float32)
    weight = s[g_idx] * (intweight - zeros[g_idx]).astype(np.float32)
    return weight.T, intweight, zeros


def awq_pack(intweight, zeros):
    """AutoAWQ's WQLinear_GEMM.from_linear packing, 4 bits: intweight
    [in, out], zeros [groups, out] -> (qweight [in, out/8], qzeros)."""
    def pack(a):
        a = a.astype(np.uint32)
        out = np.zeros((a.shape[0], a.shape[1] // 8), dtype=np.uint32)
        for col in range(a.shape[1] // 8):
            for i in range(8):
                out[:, col] |= a[:, col * 8 + AWQ_ORDER[i]] << (i * 4)
        return out.view(np.int32)
    return pack(intweight), pack(zeros)


def awq_unpack(qweight, qzeros, scales, group_size):
    """unpack_awq + reverse_awq_order + dequantize_gemm: ([out, in] weight,
    iweight [in, out], izeros [groups, out])."""
    shifts = np.arange(0, 32, 4, dtype=np.uint32)
    iw = (qweight.view(np.uint32)[:, :, None] >> shifts[None, None, :]).reshape(qweight.shape[0], -1)
    iz = (qzeros.view(np.uint32)[:, :, None] >> shifts[None, None, :]).reshape(qzeros.shape[0], -1)
    order = np.arange(iw.shape[-1]).reshape(-1, 8)[:, AWQ_REVERSE_ORDER].reshape(-1)
    iw = (iw[:, order] & 15).astype(np.int64)
    iz = (iz[:, order] & 15).astype(np.int64)
    z = np.repeat(iz, group_size, axis=0)
    s = np.repeat(scales.astype(np.float32), group_size, axis=0)
    return ((iw - z).astype(np.float32) * s).T, iw, iz


SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "BF16": "<u2"}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack_from("<Q", data, 0)[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b],
                                  SAFETENSORS_DTYPES[e["dtype"]]).reshape(e["shape"])
    return out


def write_safetensors_arrays(path, tensors):
    """tensors: {name: (safetensors dtype, array)}, written as they are."""
    write_safetensors_raw(path, [
        (name, dtype, arr.shape,
         np.ascontiguousarray(arr, dtype=SAFETENSORS_DTYPES[dtype]).tobytes())
        for name, (dtype, arr) in tensors.items()])

// QntKernels.mlir - the GPU kernels of the NVPTX target, written in upstream
// MLIR (gpu, arith, math, memref, scf) and lowered by qopt through
// convert-gpu-to-nvvm and gpu-module-to-binary to PTX for the chosen chip.
//
// Layouts are the runtime's (runtime/include/qrt_format.h, qrt_abi.h):
// activations are row-major f32 [n, width]; 4-bit weights are 32-code blocks
// of 16 bytes (byte j = c[j] | c[j+16] << 4), rows padded to whole blocks;
// byte codes are one u8 per weight; scales are f16 per (row, group), zero
// points u8, and a weight is (code - zero) * scale.
//
// Work split: a warp (32 lanes, threadIdx.x) per output row or per (token,
// head); threadIdx.y picks one of the block's 4 warps; blockIdx.y is the
// token. Lanes stride over the row and meet in a butterfly of shuffles.
module attributes {gpu.container_module} {
gpu.module @qnt_kernels {

// Sum of `v` over the warp, in every lane.
func.func private @warp_sum(%v: f32) -> f32 {
  %c32 = arith.constant 32 : i32
  %o16 = arith.constant 16 : i32
  %o8 = arith.constant 8 : i32
  %o4 = arith.constant 4 : i32
  %o2 = arith.constant 2 : i32
  %o1 = arith.constant 1 : i32
  %s16, %p16 = gpu.shuffle xor %v, %o16, %c32 : f32
  %a16 = arith.addf %v, %s16 : f32
  %s8, %p8 = gpu.shuffle xor %a16, %o8, %c32 : f32
  %a8 = arith.addf %a16, %s8 : f32
  %s4, %p4 = gpu.shuffle xor %a8, %o4, %c32 : f32
  %a4 = arith.addf %a8, %s4 : f32
  %s2, %p2 = gpu.shuffle xor %a4, %o2, %c32 : f32
  %a2 = arith.addf %a4, %s2 : f32
  %s1, %p1 = gpu.shuffle xor %a2, %o1, %c32 : f32
  %a1 = arith.addf %a2, %s1 : f32
  return %a1 : f32
}

// Maximum of `v` over the warp, in every lane.
func.func private @warp_max(%v: f32) -> f32 {
  %c32 = arith.constant 32 : i32
  %o16 = arith.constant 16 : i32
  %o8 = arith.constant 8 : i32
  %o4 = arith.constant 4 : i32
  %o2 = arith.constant 2 : i32
  %o1 = arith.constant 1 : i32
  %s16, %p16 = gpu.shuffle xor %v, %o16, %c32 : f32
  %a16 = arith.maximumf %v, %s16 : f32
  %s8, %p8 = gpu.shuffle xor %a16, %o8, %c32 : f32
  %a8 = arith.maximumf %a16, %s8 : f32
  %s4, %p4 = gpu.shuffle xor %a8, %o4, %c32 : f32
  %a4 = arith.maximumf %a8, %s4 : f32
  %s2, %p2 = gpu.shuffle xor %a4, %o2, %c32 : f32
  %a2 = arith.maximumf %a4, %s2 : f32
  %s1, %p1 = gpu.shuffle xor %a2, %o1, %c32 : f32
  %a1 = arith.maximumf %a2, %s1 : f32
  return %a1 : f32
}

// Exact int32 sum of `v` over the warp, in every lane.
func.func private @warp_sum_i32(%v: i32) -> i32 {
  %c32 = arith.constant 32 : i32
  %o16 = arith.constant 16 : i32
  %o8 = arith.constant 8 : i32
  %o4 = arith.constant 4 : i32
  %o2 = arith.constant 2 : i32
  %o1 = arith.constant 1 : i32
  %s16, %p16 = gpu.shuffle xor %v, %o16, %c32 : i32
  %a16 = arith.addi %v, %s16 : i32
  %s8, %p8 = gpu.shuffle xor %a16, %o8, %c32 : i32
  %a8 = arith.addi %a16, %s8 : i32
  %s4, %p4 = gpu.shuffle xor %a8, %o4, %c32 : i32
  %a4 = arith.addi %a8, %s4 : i32
  %s2, %p2 = gpu.shuffle xor %a4, %o2, %c32 : i32
  %a2 = arith.addi %a4, %s2 : i32
  %s1, %p1 = gpu.shuffle xor %a2, %o1, %c32 : i32
  %a1 = arith.addi %a2, %s1 : i32
  return %a1 : i32
}

// The f32 scale of group g of row r: f16 scales [rows * groups_per_row]
// (one scale when groups_per_row is 0: per tensor).
func.func private @scale_index(%r: index, %g: index, %groups_per_row: index) -> index {
  %c0 = arith.constant 0 : index
  %per_tensor = arith.cmpi eq, %groups_per_row, %c0 : index
  %rg = arith.muli %r, %groups_per_row : index
  %i = arith.addi %rg, %g : index
  %s = arith.select %per_tensor, %c0, %i : index
  return %s : index
}

// The group of column c: the last group absorbs the remainder.
func.func private @group_of(%c: index, %group_width: index, %groups_per_row: index) -> index {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %per_tensor = arith.cmpi eq, %groups_per_row, %c0 : index
  %safe_width = arith.select %per_tensor, %c1, %group_width : index
  %g = arith.divui %c, %safe_width : index
  %last = arith.subi %groups_per_row, %c1 : index
  %clamped = arith.minui %g, %last : index
  %r = arith.select %per_tensor, %c0, %clamped : index
  return %r : index
}

// The 16 bytes at m[i] as four little-endian words, in one 16-byte load
// (ld.v4.b32): i must be a multiple of 16 from a 16-byte aligned base. The
// runtime's 4-bit rows are whole 16-byte blocks, its slots 64-byte aligned
// in the weights file (checked at load), and device allocations 256.
func.func private @load_16_bytes(%m: memref<?xi8>, %i: index) -> (i32, i32, i32, i32) {
  %base = memref.extract_aligned_pointer_as_index %m : memref<?xi8> -> index
  %at = arith.addi %base, %i : index
  %at64 = arith.index_cast %at : index to i64
  %p = llvm.inttoptr %at64 : i64 to !llvm.ptr
  %v = llvm.load %p {alignment = 16 : i64} : !llvm.ptr -> vector<4xi32>
  %c0 = llvm.mlir.constant(0 : i32) : i32
  %c1 = llvm.mlir.constant(1 : i32) : i32
  %c2 = llvm.mlir.constant(2 : i32) : i32
  %c3 = llvm.mlir.constant(3 : i32) : i32
  %w0 = llvm.extractelement %v[%c0 : i32] : vector<4xi32>
  %w1 = llvm.extractelement %v[%c1 : i32] : vector<4xi32>
  %w2 = llvm.extractelement %v[%c2 : i32] : vector<4xi32>
  %w3 = llvm.extractelement %v[%c3 : i32] : vector<4xi32>
  return %w0, %w1, %w2, %w3 : i32, i32, i32, i32
}

// Byte j (0..15) of the words w0..w3 (byte 0 the low byte of w0).
func.func private @byte_of(%w0: i32, %w1: i32, %w2: i32, %w3: i32, %j: index) -> i32 {
  %c4 = arith.constant 4 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c8 = arith.constant 8 : i32
  %c255 = arith.constant 255 : i32
  %word = arith.divui %j, %c4 : index
  %is1 = arith.cmpi eq, %word, %c1 : index
  %is2 = arith.cmpi eq, %word, %c2 : index
  %is3 = arith.cmpi eq, %word, %c3 : index
  %s1 = arith.select %is1, %w1, %w0 : i32
  %s2 = arith.select %is2, %w2, %s1 : i32
  %s3 = arith.select %is3, %w3, %s2 : i32
  %in = arith.remui %j, %c4 : index
  %in32 = arith.index_cast %in : index to i32
  %sh = arith.muli %in32, %c8 : i32
  %b = arith.shrui %s3, %sh : i32
  %r = arith.andi %b, %c255 : i32
  return %r : i32
}

// W4A16-style decode/prefill GEMV: y[t, r] = sum_c (code - z) * s * x[t, c]
// for 4-bit nibble blocks. A lane takes blocks lane, lane + 32, ..., each in
// one 16-byte load; groups are whole blocks in this layout, so one scale
// serves a block.
gpu.func @qnt_gemv_q4(%w: memref<?xi8>, %scales: memref<?xf16>, %zeros: memref<?xi8>,
                      %x: memref<?xf32>, %y: memref<?xf32>, %rows: index, %cols: index,
                      %row_bytes: index, %groups_per_row: index, %group_width: index) kernel {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c15 = arith.constant 15 : i32
  %c4i = arith.constant 4 : i32
  %c16 = arith.constant 16 : index
  %c31 = arith.constant 31 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %lane = gpu.thread_id x
  %warp = gpu.thread_id y
  %bx = gpu.block_id x
  %t = gpu.block_id y
  %r0 = arith.muli %bx, %c4 : index
  %r = arith.addi %r0, %warp : index
  %in = arith.cmpi ult, %r, %rows : index
  scf.if %in {
    %cb = arith.addi %cols, %c31 : index
    %blocks = arith.divui %cb, %c32 : index
    %xrow = arith.muli %t, %cols : index
    %acc = scf.for %b = %lane to %blocks step %c32 iter_args(%a = %zero) -> (f32) {
      %first_col = arith.muli %b, %c32 : index
      %g = func.call @group_of(%first_col, %group_width, %groups_per_row) : (index, index, index) -> index
      %si = func.call @scale_index(%r, %g, %groups_per_row) : (index, index, index) -> index
      %sh = memref.load %scales[%si] : memref<?xf16>
      %s = arith.extf %sh : f16 to f32
      %zb = memref.load %zeros[%si] : memref<?xi8>
      %zi = arith.extui %zb : i8 to i32
      %z = arith.uitofp %zi : i32 to f32
      %rb = arith.muli %r, %row_bytes : index
      %bb = arith.muli %b, %c16 : index
      %base = arith.addi %rb, %bb : index
      %w0, %w1, %w2, %w3 = func.call @load_16_bytes(%w, %base)
        : (memref<?xi8>, index) -> (i32, i32, i32, i32)
      %dot = scf.for %j = %c0 to %c16 step %c1 iter_args(%d = %zero) -> (f32) {
        %u = func.call @byte_of(%w0, %w1, %w2, %w3, %j) : (i32, i32, i32, i32, index) -> i32
        %lo = arith.andi %u, %c15 : i32
        %hi = arith.shrui %u, %c4i : i32
        %col_lo = arith.addi %first_col, %j : index
        %col_hi = arith.addi %col_lo, %c16 : index
        %ok_lo = arith.cmpi ult, %col_lo, %cols : index
        %ok_hi = arith.cmpi ult, %col_hi, %cols : index
        %d1 = scf.if %ok_lo -> (f32) {
          %xi = arith.addi %xrow, %col_lo : index
          %xv = memref.load %x[%xi] : memref<?xf32>
          %cf = arith.uitofp %lo : i32 to f32
          %c = arith.subf %cf, %z : f32
          %p = arith.mulf %c, %xv : f32
          %n = arith.addf %d, %p : f32
          scf.yield %n : f32
        } else {
          scf.yield %d : f32
        }
        %d2 = scf.if %ok_hi -> (f32) {
          %xi = arith.addi %xrow, %col_hi : index
          %xv = memref.load %x[%xi] : memref<?xf32>
          %cf = arith.uitofp %hi : i32 to f32
          %c = arith.subf %cf, %z : f32
          %p = arith.mulf %c, %xv : f32
          %n = arith.addf %d1, %p : f32
          scf.yield %n : f32
        } else {
          scf.yield %d1 : f32
        }
        scf.yield %d2 : f32
      }
      %scaled = arith.mulf %dot, %s : f32
      %next = arith.addf %a, %scaled : f32
      scf.yield %next : f32
    }
    %sum = func.call @warp_sum(%acc) : (f32) -> f32
    %first = arith.cmpi eq, %lane, %c0 : index
    scf.if %first {
      %yr = arith.muli %t, %rows : index
      %yi = arith.addi %yr, %r : index
      memref.store %sum, %y[%yi] : memref<?xf32>
    }
  }
  gpu.return
}

// W8A16-style GEMV over one byte per code (int2..int8): a lane takes columns
// lane, lane + 32, ... (coalesced), each with its own group's scale.
gpu.func @qnt_gemv_codes(%w: memref<?xi8>, %scales: memref<?xf16>, %zeros: memref<?xi8>,
                         %x: memref<?xf32>, %y: memref<?xf32>, %rows: index, %cols: index,
                         %row_bytes: index, %groups_per_row: index, %group_width: index) kernel {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %lane = gpu.thread_id x
  %warp = gpu.thread_id y
  %bx = gpu.block_id x
  %t = gpu.block_id y
  %r0 = arith.muli %bx, %c4 : index
  %r = arith.addi %r0, %warp : index
  %in = arith.cmpi ult, %r, %rows : index
  scf.if %in {
    %xrow = arith.muli %t, %cols : index
    %rb = arith.muli %r, %row_bytes : index
    %acc = scf.for %c = %lane to %cols step %c32 iter_args(%a = %zero) -> (f32) {
      %g = func.call @group_of(%c, %group_width, %groups_per_row) : (index, index, index) -> index
      %si = func.call @scale_index(%r, %g, %groups_per_row) : (index, index, index) -> index
      %sh = memref.load %scales[%si] : memref<?xf16>
      %s = arith.extf %sh : f16 to f32
      %zb = memref.load %zeros[%si] : memref<?xi8>
      %zi = arith.extui %zb : i8 to i32
      %z = arith.uitofp %zi : i32 to f32
      %at = arith.addi %rb, %c : index
      %byte = memref.load %w[%at] : memref<?xi8>
      %u = arith.extui %byte : i8 to i32
      %cf = arith.uitofp %u : i32 to f32
      %code = arith.subf %cf, %z : f32
      %wv = arith.mulf %code, %s : f32
      %xi = arith.addi %xrow, %c : index
      %xv = memref.load %x[%xi] : memref<?xf32>
      %p = arith.mulf %wv, %xv : f32
      %n = arith.addf %a, %p : f32
      scf.yield %n : f32
    }
    %sum = func.call @warp_sum(%acc) : (f32) -> f32
    %first = arith.cmpi eq, %lane, %c0 : index
    scf.if %first {
      %yr = arith.muli %t, %rows : index
      %yi = arith.addi %yr, %r : index
      memref.store %sum, %y[%yi] : memref<?xf32>
    }
  }
  gpu.return
}

// f32 weights (norm-free classifier, fp32 programs): y[t, r] = w[r] . x[t].
gpu.func @qnt_gemv_f32(%w: memref<?xf32>, %x: memref<?xf32>, %y: memref<?xf32>,
                       %rows: index, %cols: index) kernel {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %lane = gpu.thread_id x
  %warp = gpu.thread_id y
  %bx = gpu.block_id x
  %t = gpu.block_id y
  %r0 = arith.muli %bx, %c4 : index
  %r = arith.addi %r0, %warp : index
  %in = arith.cmpi ult, %r, %rows : index
  scf.if %in {
    %xrow = arith.muli %t, %cols : index
    %wrow = arith.muli %r, %cols : index
    %acc = scf.for %c = %lane to %cols step %c32 iter_args(%a = %zero) -> (f32) {
      %wi = arith.addi %wrow, %c : index
      %wv = memref.load %w[%wi] : memref<?xf32>
      %xi = arith.addi %xrow, %c : index
      %xv = memref.load %x[%xi] : memref<?xf32>
      %n = math.fma %wv, %xv, %a : f32
      scf.yield %n : f32
    }
    %sum = func.call @warp_sum(%acc) : (f32) -> f32
    %first = arith.cmpi eq, %lane, %c0 : index
    scf.if %first {
      %yr = arith.muli %t, %rows : index
      %yi = arith.addi %yr, %r : index
      memref.store %sum, %y[%yi] : memref<?xf32>
    }
  }
  gpu.return
}

// Optionally sum = a + b first (has_b), then y = w * x / sqrt(mean(x^2) + eps)
// per token row; one warp per row (blockIdx.x = token, threadIdx.y = 0).
gpu.func @qnt_add_rms_norm(%a: memref<?xf32>, %b: memref<?xf32>, %has_b: i1,
                           %w: memref<?xf32>, %sum: memref<?xf32>, %y: memref<?xf32>,
                           %dim: index, %eps: f32) kernel {
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %lane = gpu.thread_id x
  %t = gpu.block_id x
  %row = arith.muli %t, %dim : index
  %ss = scf.for %c = %lane to %dim step %c32 iter_args(%acc = %zero) -> (f32) {
    %i = arith.addi %row, %c : index
    %av = memref.load %a[%i] : memref<?xf32>
    %v = scf.if %has_b -> (f32) {
      %bv = memref.load %b[%i] : memref<?xf32>
      %s = arith.addf %av, %bv : f32
      memref.store %s, %sum[%i] : memref<?xf32>
      scf.yield %s : f32
    } else {
      scf.yield %av : f32
    }
    %sq = arith.mulf %v, %v : f32
    %n = arith.addf %acc, %sq : f32
    scf.yield %n : f32
  }
  %total = func.call @warp_sum(%ss) : (f32) -> f32
  %di = arith.index_cast %dim : index to i32
  %df = arith.sitofp %di : i32 to f32
  %mean = arith.divf %total, %df : f32
  %me = arith.addf %mean, %eps : f32
  %root = math.sqrt %me : f32
  %inv = arith.divf %one, %root : f32
  scf.for %c = %lane to %dim step %c32 {
    %i = arith.addi %row, %c : index
    %v = scf.if %has_b -> (f32) {
      %s = memref.load %sum[%i] : memref<?xf32>
      scf.yield %s : f32
    } else {
      %s = memref.load %a[%i] : memref<?xf32>
      scf.yield %s : f32
    }
    %wv = memref.load %w[%c] : memref<?xf32>
    %nx = arith.mulf %inv, %v : f32
    %o = arith.mulf %wv, %nx : f32
    memref.store %o, %y[%i] : memref<?xf32>
  }
  gpu.return
}

// y = silu(gate) * up, elementwise over count values (one thread each).
gpu.func @qnt_swiglu(%gate: memref<?xf32>, %up: memref<?xf32>, %y: memref<?xf32>,
                     %count: index) kernel {
  %one = arith.constant 1.0 : f32
  %bid = gpu.block_id x
  %bdim = gpu.block_dim x
  %tid = gpu.thread_id x
  %base = arith.muli %bid, %bdim : index
  %i = arith.addi %base, %tid : index
  %in = arith.cmpi ult, %i, %count : index
  scf.if %in {
    %g = memref.load %gate[%i] : memref<?xf32>
    %u = memref.load %up[%i] : memref<?xf32>
    %ng = arith.negf %g : f32
    %e = math.exp %ng : f32
    %d = arith.addf %one, %e : f32
    %sig = arith.divf %one, %d : f32
    %s = arith.mulf %g, %sig : f32
    %o = arith.mulf %s, %u : f32
    memref.store %o, %y[%i] : memref<?xf32>
  }
  gpu.return
}

// Rotary embedding of [n, width] rows at positions pos + t: lane pair j of
// each head rotates by (pos + t) * theta^(-2j / head_dim); `interleaved`
// pairs (2j, 2j+1), else (j, j + head_dim / 2). One thread per pair.
gpu.func @qnt_rope(%x: memref<?xf32>, %y: memref<?xf32>, %width: index, %head_dim: index,
                   %pos: index, %theta: f32, %interleaved: i1) kernel {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %two = arith.constant 2.0 : f32
  %one = arith.constant 1.0 : f32
  %t = gpu.block_id y
  %bid = gpu.block_id x
  %bdim = gpu.block_dim x
  %tid = gpu.thread_id x
  %base = arith.muli %bid, %bdim : index
  %p = arith.addi %base, %tid : index
  %pairs = arith.divui %width, %c2 : index
  %in = arith.cmpi ult, %p, %pairs : index
  scf.if %in {
    %half = arith.divui %head_dim, %c2 : index
    %h = arith.divui %p, %half : index
    %j = arith.remui %p, %half : index
    %hoff = arith.muli %h, %head_dim : index
    %j2 = arith.muli %j, %c2 : index
    %j2p = arith.addi %j2, %c1 : index
    %jh = arith.addi %j, %half : index
    %ia = arith.select %interleaved, %j2, %j : index
    %ib = arith.select %interleaved, %j2p, %jh : index
    %row = arith.muli %t, %width : index
    %ro = arith.addi %row, %hoff : index
    %a = arith.addi %ro, %ia : index
    %b = arith.addi %ro, %ib : index
    %ji = arith.index_cast %j : index to i32
    %jf = arith.sitofp %ji : i32 to f32
    %hdi = arith.index_cast %head_dim : index to i32
    %hdf = arith.sitofp %hdi : i32 to f32
    %e2 = arith.mulf %two, %jf : f32
    %ex = arith.divf %e2, %hdf : f32
    %pw = math.powf %theta, %ex : f32
    %freq = arith.divf %one, %pw : f32
    %posi = arith.addi %pos, %t : index
    %pi = arith.index_cast %posi : index to i32
    %pf = arith.sitofp %pi : i32 to f32
    %angle = arith.mulf %pf, %freq : f32
    %cs = math.cos %angle : f32
    %sn = math.sin %angle : f32
    %x0 = memref.load %x[%a] : memref<?xf32>
    %x1 = memref.load %x[%b] : memref<?xf32>
    %x0c = arith.mulf %x0, %cs : f32
    %x1s = arith.mulf %x1, %sn : f32
    %y0 = arith.subf %x0c, %x1s : f32
    %x0s = arith.mulf %x0, %sn : f32
    %x1c = arith.mulf %x1, %cs : f32
    %y1 = arith.addf %x0s, %x1c : f32
    memref.store %y0, %y[%a] : memref<?xf32>
    memref.store %y1, %y[%b] : memref<?xf32>
  }
  gpu.return
}

// Causal attention over the KV cache: one warp per (token t = blockIdx.y,
// head h = blockIdx.x * 4 + threadIdx.y). Two passes over positions
// 0..pos+t: the maximum score, then the softmax-weighted sum of values,
// accumulated into out by each lane for its columns of the head.
gpu.func @qnt_attention(%q: memref<?xf32>, %keys: memref<?xf32>, %values: memref<?xf32>,
                        %out: memref<?xf32>, %pos: index, %heads: index, %kv_heads: index,
                        %head_dim: index, %scale: f32) kernel {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %lane = gpu.thread_id x
  %warp = gpu.thread_id y
  %bx = gpu.block_id x
  %t = gpu.block_id y
  %h0 = arith.muli %bx, %c4 : index
  %h = arith.addi %h0, %warp : index
  %in = arith.cmpi ult, %h, %heads : index
  scf.if %in {
    %group = arith.divui %heads, %kv_heads : index
    %kvh = arith.divui %h, %group : index
    %qw = arith.muli %heads, %head_dim : index
    %kvw = arith.muli %kv_heads, %head_dim : index
    %qrow = arith.muli %t, %qw : index
    %qh = arith.muli %h, %head_dim : index
    %qbase = arith.addi %qrow, %qh : index
    %kvoff = arith.muli %kvh, %head_dim : index
    %last = arith.addi %pos, %t : index
    %end = arith.addi %last, %c1 : index
    %max = scf.for %p = %c0 to %end step %c1 iter_args(%m = %ninf) -> (f32) {
      %kbase0 = arith.muli %p, %kvw : index
      %kbase = arith.addi %kbase0, %kvoff : index
      %part = scf.for %i = %lane to %head_dim step %c32 iter_args(%a = %zero) -> (f32) {
        %qi = arith.addi %qbase, %i : index
        %ki = arith.addi %kbase, %i : index
        %qv = memref.load %q[%qi] : memref<?xf32>
        %kv = memref.load %keys[%ki] : memref<?xf32>
        %n = math.fma %qv, %kv, %a : f32
        scf.yield %n : f32
      }
      %dot = func.call @warp_sum(%part) : (f32) -> f32
      %s = arith.mulf %dot, %scale : f32
      %nm = arith.maximumf %m, %s : f32
      scf.yield %nm : f32
    }
    scf.for %i = %lane to %head_dim step %c32 {
      %oi = arith.addi %qbase, %i : index
      memref.store %zero, %out[%oi] : memref<?xf32>
    }
    %sum = scf.for %p = %c0 to %end step %c1 iter_args(%acc = %zero) -> (f32) {
      %kbase0 = arith.muli %p, %kvw : index
      %kbase = arith.addi %kbase0, %kvoff : index
      %part = scf.for %i = %lane to %head_dim step %c32 iter_args(%a = %zero) -> (f32) {
        %qi = arith.addi %qbase, %i : index
        %ki = arith.addi %kbase, %i : index
        %qv = memref.load %q[%qi] : memref<?xf32>
        %kv = memref.load %keys[%ki] : memref<?xf32>
        %n = math.fma %qv, %kv, %a : f32
        scf.yield %n : f32
      }
      %dot = func.call @warp_sum(%part) : (f32) -> f32
      %s = arith.mulf %dot, %scale : f32
      %d = arith.subf %s, %max : f32
      %e = math.exp %d : f32
      scf.for %i = %lane to %head_dim step %c32 {
        %oi = arith.addi %qbase, %i : index
        %vi = arith.addi %kbase, %i : index
        %vv = memref.load %values[%vi] : memref<?xf32>
        %o = memref.load %out[%oi] : memref<?xf32>
        %n = math.fma %e, %vv, %o : f32
        memref.store %n, %out[%oi] : memref<?xf32>
      }
      %na = arith.addf %acc, %e : f32
      scf.yield %na : f32
    }
    scf.for %i = %lane to %head_dim step %c32 {
      %oi = arith.addi %qbase, %i : index
      %o = memref.load %out[%oi] : memref<?xf32>
      %n = arith.divf %o, %sum : f32
      memref.store %n, %out[%oi] : memref<?xf32>
    }
  }
  gpu.return
}

// W8A8 per-token quantization (runtime/cpu/q8_quantize.c's
// qrt_quantize_tokens): s = absmax / 127 (1 for a zero row),
// q = clamp(roundeven(x / s), -127, 127). One warp per token
// (blockIdx.x), block (32, 1).
gpu.func @qnt_quantize_tokens(%x: memref<?xf32>, %q: memref<?xi8>, %scale: memref<?xf32>,
                              %cols: index) kernel {
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %f127 = arith.constant 127.0 : f32
  %fm127 = arith.constant -127.0 : f32
  %lane = gpu.thread_id x
  %t = gpu.block_id x
  %row = arith.muli %t, %cols : index
  %part = scf.for %c = %lane to %cols step %c32 iter_args(%m = %zero) -> (f32) {
    %i = arith.addi %row, %c : index
    %v = memref.load %x[%i] : memref<?xf32>
    %a = math.absf %v : f32
    %n = arith.maximumf %m, %a : f32
    scf.yield %n : f32
  }
  %absmax = func.call @warp_max(%part) : (f32) -> f32
  %pos = arith.cmpf ogt, %absmax, %zero : f32
  %ratio = arith.divf %absmax, %f127 : f32
  %s = arith.select %pos, %ratio, %one : f32
  scf.for %c = %lane to %cols step %c32 {
    %i = arith.addi %row, %c : index
    %v = memref.load %x[%i] : memref<?xf32>
    %d = arith.divf %v, %s : f32
    %r = math.roundeven %d : f32
    %lo = arith.maximumf %r, %fm127 : f32
    %hi = arith.minimumf %lo, %f127 : f32
    %code = arith.fptosi %hi : f32 to i8
    memref.store %code, %q[%i] : memref<?xi8>
  }
  %c0 = arith.constant 0 : index
  %first = arith.cmpi eq, %lane, %c0 : index
  scf.if %first {
    memref.store %s, %scale[%t] : memref<?xf32>
  }
  gpu.return
}

// W8A8 GEMV: y[t, r] = xscale[t] * sum_g s[r, g] * dot_g, where dot_g is
// the exact int32 sum over group g of (code - zero) * q[t, c] (lanes stride
// over the group's columns and meet in an integer butterfly), so the result
// equals the CPU kernels' (runtime/cpu/linear_kernels.c, w8a8_rows) to the
// bit. Layout as @qnt_gemv_codes; block (32, 4), grid (rows / 4, n).
gpu.func @qnt_gemv_w8a8(%w: memref<?xi8>, %scales: memref<?xf16>, %zeros: memref<?xi8>,
                        %xq: memref<?xi8>, %xscale: memref<?xf32>, %y: memref<?xf32>,
                        %rows: index, %cols: index, %row_bytes: index,
                        %groups_per_row: index, %group_width: index) kernel {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %zi32 = arith.constant 0 : i32
  %zero = arith.constant 0.0 : f32
  %lane = gpu.thread_id x
  %warp = gpu.thread_id y
  %bx = gpu.block_id x
  %t = gpu.block_id y
  %r0 = arith.muli %bx, %c4 : index
  %r = arith.addi %r0, %warp : index
  %in = arith.cmpi ult, %r, %rows : index
  scf.if %in {
    %per_tensor = arith.cmpi eq, %groups_per_row, %c0 : index
    %groups = arith.select %per_tensor, %c1, %groups_per_row : index
    %width = arith.select %per_tensor, %cols, %group_width : index
    %last = arith.subi %groups, %c1 : index
    %xrow = arith.muli %t, %cols : index
    %rb = arith.muli %r, %row_bytes : index
    %acc = scf.for %g = %c0 to %groups step %c1 iter_args(%a = %zero) -> (f32) {
      %begin = arith.muli %g, %width : index
      %next = arith.addi %begin, %width : index
      %is_last = arith.cmpi eq, %g, %last : index
      %end = arith.select %is_last, %cols, %next : index
      %si = func.call @scale_index(%r, %g, %groups_per_row) : (index, index, index) -> index
      %zb = memref.load %zeros[%si] : memref<?xi8>
      %z = arith.extui %zb : i8 to i32
      %first_col = arith.addi %begin, %lane : index
      %part = scf.for %c = %first_col to %end step %c32 iter_args(%d = %zi32) -> (i32) {
        %wi = arith.addi %rb, %c : index
        %wb = memref.load %w[%wi] : memref<?xi8>
        %wu = arith.extui %wb : i8 to i32
        %wc = arith.subi %wu, %z : i32
        %xi = arith.addi %xrow, %c : index
        %xb = memref.load %xq[%xi] : memref<?xi8>
        %xs = arith.extsi %xb : i8 to i32
        %p = arith.muli %wc, %xs : i32
        %n = arith.addi %d, %p : i32
        scf.yield %n : i32
      }
      %dot = func.call @warp_sum_i32(%part) : (i32) -> i32
      %sh = memref.load %scales[%si] : memref<?xf16>
      %sf = arith.extf %sh : f16 to f32
      %df = arith.sitofp %dot : i32 to f32
      %term = arith.mulf %sf, %df : f32
      %na = arith.addf %a, %term : f32
      scf.yield %na : f32
    }
    %first = arith.cmpi eq, %lane, %c0 : index
    scf.if %first {
      %xsv = memref.load %xscale[%t] : memref<?xf32>
      %out = arith.mulf %xsv, %acc : f32
      %yr = arith.muli %t, %rows : index
      %yi = arith.addi %yr, %r : index
      memref.store %out, %y[%yi] : memref<?xf32>
    }
  }
  gpu.return
}

// Embedding gather: out[t, :] = table[tokens[t], :]; one thread per value.
gpu.func @qnt_embed(%table: memref<?xf32>, %tokens: memref<?xi32>, %out: memref<?xf32>,
                    %dim: index) kernel {
  %t = gpu.block_id y
  %bid = gpu.block_id x
  %bdim = gpu.block_dim x
  %tid = gpu.thread_id x
  %base = arith.muli %bid, %bdim : index
  %c = arith.addi %base, %tid : index
  %in = arith.cmpi ult, %c, %dim : index
  scf.if %in {
    %tok = memref.load %tokens[%t] : memref<?xi32>
    %ti = arith.index_cast %tok : i32 to index
    %row = arith.muli %ti, %dim : index
    %src = arith.addi %row, %c : index
    %v = memref.load %table[%src] : memref<?xf32>
    %orow = arith.muli %t, %dim : index
    %dst = arith.addi %orow, %c : index
    memref.store %v, %out[%dst] : memref<?xf32>
  }
  gpu.return
}

}
}

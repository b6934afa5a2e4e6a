// QntMmaKernels.mlir - the NVPTX target's prefill GEMMs on tensor cores
// (mma.sync, sm_80 and later), merged into QntKernels.mlir's gpu.module by
// NvptxKernels.cpp (the helpers declared here are defined there).
//
// Layouts are the GEMVs' (QntKernels.mlir): activations f32 [n, cols], 4-bit
// nibble blocks or one byte per code, f16 scales and u8 zero points per
// (row, group). A GEMM computes y[t, r] for a tile of 64 tokens (blockIdx.y)
// by 64 weight rows (blockIdx.x) with 4 warps (block (32, 4)), each warp
// 32 tokens x 32 rows: 2 x 4 tiles of the m16n8 instruction shape. The
// columns go by in stages of 32, staged in shared memory; a stage lies in
// one quantization group (the host launches these kernels only when group
// widths are multiples of 32, or for one group per row), so each stage's
// partial sums take one scale per weight row.
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16" and
// "mma.m16n8k32"), with g = lane / 4 and q = lane % 4:
//   A (16 x k, row-major): register 0 holds row g, columns from 2q (f16) or
//     4q (8-bit); register 1 the same columns of row g + 8; registers 2 and
//     3 the same again k / 2 columns further.
//   B (k x 8, column-major): register 0 holds column g, rows from 2q (f16)
//     or 4q (8-bit); register 1 the same k / 2 rows further.
//   C (16 x 8, 32-bit): c0, c1 are row g, columns 2q, 2q + 1; c2, c3 the
//     same columns of row g + 8.
// Here the instruction's rows are tokens and its columns weight rows.
//
// Shared-memory row strides (40 f32, 20 and 12 words) are padded so that the
// eight rows one fragment load touches fall in different banks.
module attributes {gpu.container_module} {
gpu.module @qnt_kernels {

func.func private @scale_index(index, index, index) -> index
func.func private @group_of(index, index, index) -> index
func.func private @warp_max(f32) -> f32

// 2^k as f32, for k in [-126, 127].
func.func private @pow2(%k: i32) -> f32 {
  %bias = arith.constant 127 : i32
  %c23 = arith.constant 23 : i32
  %e = arith.addi %k, %bias : i32
  %bits = arith.shli %e, %c23 : i32
  %f = arith.bitcast %bits : i32 to f32
  return %f : f32
}

// The power of two k that brings a stage's largest activation magnitude m
// into [2^14, 2^15): x * 2^-k then fits f16 (max 65504) with its hi + lo
// halves keeping about 22 bits relative to m, however large or small the
// token's activations are. Scaling by 2^-k and back is exact.
func.func private @stage_exponent(%m: f32) -> i32 {
  %c23 = arith.constant 23 : i32
  %c255 = arith.constant 255 : i32
  %bias = arith.constant 141 : i32 // 127 + 14
  %lo = arith.constant -126 : i32
  %hi = arith.constant 126 : i32
  %bits = arith.bitcast %m : f32 to i32
  %sh = arith.shrui %bits, %c23 : i32
  %e = arith.andi %sh, %c255 : i32
  %k = arith.subi %e, %bias : i32
  %k1 = arith.maxsi %k, %lo : i32
  %k2 = arith.minsi %k1, %hi : i32
  return %k2 : i32
}

// Two f16 in one 32-bit register, `lo` in the low half (fragment order).
func.func private @pack_f16(%lo: f16, %hi: f16) -> i32 {
  %c16 = arith.constant 16 : i32
  %a = arith.bitcast %lo : f16 to i16
  %b = arith.bitcast %hi : f16 to i16
  %ai = arith.extui %a : i16 to i32
  %bi = arith.extui %b : i16 to i32
  %bs = arith.shli %bi, %c16 : i32
  %r = arith.ori %ai, %bs : i32
  return %r : i32
}

// Small integers (code - zero, |v| <= 255) as f16: exact.
func.func private @pack_int_f16(%a: i32, %b: i32) -> i32 {
  %fa = arith.sitofp %a : i32 to f16
  %fb = arith.sitofp %b : i32 to f16
  %r = func.call @pack_f16(%fa, %fb) : (f16, f16) -> i32
  return %r : i32
}

// f32 activations as two f16 terms, x = hi + lo to about 22 bits: the
// tensor cores multiply f16, and one f16 would cost logits ~1e-3 relative.
// (x is pre-scaled by a power of two per token and stage: @stage_exponent.)
func.func private @split_f16(%x0: f32, %x1: f32) -> (i32, i32) {
  %h0 = arith.truncf %x0 : f32 to f16
  %h1 = arith.truncf %x1 : f32 to f16
  %e0 = arith.extf %h0 : f16 to f32
  %e1 = arith.extf %h1 : f16 to f32
  %r0 = arith.subf %x0, %e0 : f32
  %r1 = arith.subf %x1, %e1 : f32
  %l0 = arith.truncf %r0 : f32 to f16
  %l1 = arith.truncf %r1 : f32 to f16
  %hi = func.call @pack_f16(%h0, %h1) : (f16, f16) -> i32
  %lo = func.call @pack_f16(%l0, %l1) : (f16, f16) -> i32
  return %hi, %lo : i32, i32
}

// d = a * b + c on one m16n8k16 tile: f16 inputs, f32 sums.
func.func private @mma_f16(%a0: i32, %a1: i32, %a2: i32, %a3: i32, %b0: i32, %b1: i32,
                           %c0: f32, %c1: f32, %c2: f32, %c3: f32) -> (f32, f32, f32, f32) {
  %va0 = llvm.bitcast %a0 : i32 to vector<2xf16>
  %va1 = llvm.bitcast %a1 : i32 to vector<2xf16>
  %va2 = llvm.bitcast %a2 : i32 to vector<2xf16>
  %va3 = llvm.bitcast %a3 : i32 to vector<2xf16>
  %vb0 = llvm.bitcast %b0 : i32 to vector<2xf16>
  %vb1 = llvm.bitcast %b1 : i32 to vector<2xf16>
  %d = nvvm.mma.sync A[%va0, %va1, %va2, %va3] B[%vb0, %vb1] C[%c0, %c1, %c2, %c3]
    {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
     shape = #nvvm.shape<m = 16, n = 8, k = 16>}
    : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
  %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32)>
  %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32)>
  %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32)>
  %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32)>
  return %d0, %d1, %d2, %d3 : f32, f32, f32, f32
}

// d = a * b + c on one m16n8k32 tile: int8 activations (a), u8 weight
// codes (b), exact int32 sums.
func.func private @mma_s8u8(%a0: i32, %a1: i32, %a2: i32, %a3: i32, %b0: i32, %b1: i32,
                            %c0: i32, %c1: i32, %c2: i32, %c3: i32) -> (i32, i32, i32, i32) {
  %d = nvvm.mma.sync A[%a0, %a1, %a2, %a3] B[%b0, %b1] C[%c0, %c1, %c2, %c3]
    {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
     multiplicandAPtxType = #nvvm.mma_type<s8>, multiplicandBPtxType = #nvvm.mma_type<u8>,
     intOverflowBehavior = #nvvm.mma_int_overflow<wrapped>,
     shape = #nvvm.shape<m = 16, n = 8, k = 32>}
    : (i32, i32, i32) -> !llvm.struct<(i32, i32, i32, i32)>
  %d0 = llvm.extractvalue %d[0] : !llvm.struct<(i32, i32, i32, i32)>
  %d1 = llvm.extractvalue %d[1] : !llvm.struct<(i32, i32, i32, i32)>
  %d2 = llvm.extractvalue %d[2] : !llvm.struct<(i32, i32, i32, i32)>
  %d3 = llvm.extractvalue %d[3] : !llvm.struct<(i32, i32, i32, i32)>
  return %d0, %d1, %d2, %d3 : i32, i32, i32, i32
}

// Where accumulator i (of a warp's 32 per lane: tile-major over 2 x 4
// tiles, c0..c3 within a tile) sits in the block's 64 x 64 output: its
// token (c0, c1 row g, c2, c3 row g + 8 of tile mt) ...
func.func private @acc_token(%i: index, %wm32: index, %g: index) -> index {
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %tile = arith.divui %i, %c4 : index
  %mt = arith.divui %tile, %c4 : index
  %e = arith.remui %i, %c4 : index
  %lower = arith.divui %e, %c2 : index
  %mo = arith.muli %mt, %c16 : index
  %lo8 = arith.muli %lower, %c8 : index
  %t0 = arith.addi %wm32, %mo : index
  %t1 = arith.addi %t0, %g : index
  %t = arith.addi %t1, %lo8 : index
  return %t : index
}

// ... and its weight row (c0, c2 column 2q, c1, c3 column 2q + 1 of tile nt).
func.func private @acc_row(%i: index, %wn32: index, %q2: index) -> index {
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %tile = arith.divui %i, %c4 : index
  %nt = arith.remui %tile, %c4 : index
  %odd = arith.remui %i, %c2 : index
  %no = arith.muli %nt, %c8 : index
  %r0 = arith.addi %wn32, %no : index
  %r1 = arith.addi %r0, %q2 : index
  %r = arith.addi %r1, %odd : index
  return %r : index
}

// y[t * rows + r] = v where (t, r) is inside the output.
func.func private @store_out(%y: memref<?xf32>, %t: index, %r: index, %n: index, %rows: index,
                             %v: f32) {
  %okt = arith.cmpi ult, %t, %n : index
  %okr = arith.cmpi ult, %r, %rows : index
  %ok = arith.andi %okt, %okr : i1
  scf.if %ok {
    %row = arith.muli %t, %rows : index
    %i = arith.addi %row, %r : index
    memref.store %v, %y[%i] : memref<?xf32>
  }
  return
}

// The byte at i when `ok`, else 0, zero-extended.
func.func private @byte_or_zero(%m: memref<?xi8>, %i: index, %ok: i1) -> i32 {
  %r = scf.if %ok -> (i32) {
    %b = memref.load %m[%i] : memref<?xi8>
    %u = arith.extui %b : i8 to i32
    scf.yield %u : i32
  } else {
    %z = arith.constant 0 : i32
    scf.yield %z : i32
  }
  return %r : i32
}

// Bytes m[base + j] (j < 4, where base + j < limit and `ok`; else 0) in one
// word, byte j in bits 8j: an 8-bit fragment register.
func.func private @word_of_bytes(%m: memref<?xi8>, %base: index, %col: index, %limit: index,
                                 %ok: i1) -> i32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : i32
  %z = arith.constant 0 : i32
  %w = scf.for %j = %c0 to %c4 step %c1 iter_args(%acc = %z) -> (i32) {
    %cj = arith.addi %col, %j : index
    %in = arith.cmpi ult, %cj, %limit : index
    %okj = arith.andi %ok, %in : i1
    %i = arith.addi %base, %j : index
    %b = func.call @byte_or_zero(%m, %i, %okj) : (memref<?xi8>, index, i1) -> i32
    %j32 = arith.index_cast %j : index to i32
    %sh = arith.muli %j32, %c8 : i32
    %bs = arith.shli %b, %sh : i32
    %n = arith.ori %acc, %bs : i32
    scf.yield %n : i32
  }
  return %w : i32
}

// Weight-only prefill GEMM (W4A16 / W8A16 style): y[t, r] = sum over stages
// of s[r, group] * sum_c (code - z) * x[t, c]. Weights go to shared memory
// as exact small integers (code - z) in f16, activations as hi + lo f16
// pairs (@split_f16, two instructions per tile) of x * 2^-k, k per token and
// stage (@stage_exponent), so each stage's sum is exact to about 22 bits
// before its f32 scales s[r, group] * 2^k. `nibbles`: 4-bit blocks (a stage
// is one 16-byte block per row), else one byte per code.
// Block (32, 4), grid (ceil(rows / 64), ceil(n / 64)).
gpu.func @qnt_gemm_f16(%w: memref<?xi8>, %scales: memref<?xf16>, %zeros: memref<?xi8>,
                       %x: memref<?xf32>, %y: memref<?xf32>, %rows: index, %cols: index,
                       %row_bytes: index, %groups_per_row: index, %group_width: index,
                       %n: index, %nibbles: i1)
    workgroup(%xs: memref<2560xf32, #gpu.address_space<workgroup>>,
              %ws: memref<1280xi32, #gpu.address_space<workgroup>>,
              %ss: memref<64xf32, #gpu.address_space<workgroup>>,
              %ts: memref<64xf32, #gpu.address_space<workgroup>>)
    private(%acc: memref<32xf32, #gpu.address_space<private>>,
            %part: memref<32xf32, #gpu.address_space<private>>,
            %ahi: memref<8xi32, #gpu.address_space<private>>,
            %alo: memref<8xi32, #gpu.address_space<private>>,
            %bf: memref<8xi32, #gpu.address_space<private>>)
    kernel {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c20 = arith.constant 20 : index
  %c32 = arith.constant 32 : index
  %c40 = arith.constant 40 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %i15 = arith.constant 15 : i32
  %i4 = arith.constant 4 : i32
  %i0 = arith.constant 0 : i32
  %zero = arith.constant 0.0 : f32
  %lane = gpu.thread_id x
  %warp = gpu.thread_id y
  %wbase = arith.muli %warp, %c32 : index
  %tid = arith.addi %wbase, %lane : index
  %g = arith.divui %lane, %c4 : index
  %q = arith.remui %lane, %c4 : index
  %q2 = arith.muli %q, %c2 : index
  %wm = arith.remui %warp, %c2 : index
  %wn = arith.divui %warp, %c2 : index
  %wm32 = arith.muli %wm, %c32 : index
  %wn32 = arith.muli %wn, %c32 : index
  %bx = gpu.block_id x
  %by = gpu.block_id y
  %n0 = arith.muli %bx, %c64 : index
  %m0 = arith.muli %by, %c64 : index
  scf.for %i = %c0 to %c32 step %c1 {
    memref.store %zero, %acc[%i] : memref<32xf32, #gpu.address_space<private>>
  }
  scf.for %k0 = %c0 to %cols step %c32 {
    gpu.barrier
    // activations: 64 tokens x 32 columns, a warp per token row of 32,
    // scaled by 2^-k for the row's largest magnitude (2^k goes to ts)
    scf.for %j = %c0 to %c16 step %c1 {
      %jo = arith.muli %j, %c128 : index
      %idx = arith.addi %tid, %jo : index
      %tok = arith.divui %idx, %c32 : index
      %col = arith.remui %idx, %c32 : index
      %tt = arith.addi %m0, %tok : index
      %cc = arith.addi %k0, %col : index
      %okt = arith.cmpi ult, %tt, %n : index
      %okc = arith.cmpi ult, %cc, %cols : index
      %ok = arith.andi %okt, %okc : i1
      %v = scf.if %ok -> (f32) {
        %row = arith.muli %tt, %cols : index
        %xi = arith.addi %row, %cc : index
        %xv = memref.load %x[%xi] : memref<?xf32>
        scf.yield %xv : f32
      } else {
        scf.yield %zero : f32
      }
      %mag = math.absf %v : f32
      %m = func.call @warp_max(%mag) : (f32) -> f32
      %k = func.call @stage_exponent(%m) : (f32) -> i32
      %nk = arith.subi %i0, %k : i32
      %down = func.call @pow2(%nk) : (i32) -> f32
      %vs = arith.mulf %v, %down : f32
      %so = arith.muli %tok, %c40 : index
      %si = arith.addi %so, %col : index
      memref.store %vs, %xs[%si] : memref<2560xf32, #gpu.address_space<workgroup>>
      %first = arith.cmpi eq, %lane, %c0 : index
      scf.if %first {
        %up = func.call @pow2(%k) : (i32) -> f32
        memref.store %up, %ts[%tok] : memref<64xf32, #gpu.address_space<workgroup>>
      }
    }
    // weights: 64 rows x 32 columns as (code - z) f16 pairs, word p of a
    // row holding columns 2p, 2p + 1
    %gk = func.call @group_of(%k0, %group_width, %groups_per_row) : (index, index, index) -> index
    scf.if %nibbles {
      %blk = arith.divui %k0, %c32 : index
      %boff = arith.muli %blk, %c16 : index
      // bytes 2p, 2p + 1 of the row's block: low nibbles are columns 2p,
      // 2p + 1 (word p), high nibbles columns 2p + 16, 2p + 17 (word p + 8)
      scf.for %j = %c0 to %c4 step %c1 {
        %jo = arith.muli %j, %c128 : index
        %idx = arith.addi %tid, %jo : index
        %row = arith.divui %idx, %c8 : index
        %p = arith.remui %idx, %c8 : index
        %r = arith.addi %n0, %row : index
        %okr = arith.cmpi ult, %r, %rows : index
        %lo, %hi = scf.if %okr -> (i32, i32) {
          %si = func.call @scale_index(%r, %gk, %groups_per_row) : (index, index, index) -> index
          %zb = memref.load %zeros[%si] : memref<?xi8>
          %z = arith.extui %zb : i8 to i32
          %rb = arith.muli %r, %row_bytes : index
          %rbb = arith.addi %rb, %boff : index
          %p2 = arith.muli %p, %c2 : index
          %at = arith.addi %rbb, %p2 : index
          %at1 = arith.addi %at, %c1 : index
          %b0 = memref.load %w[%at] : memref<?xi8>
          %b1 = memref.load %w[%at1] : memref<?xi8>
          %u0 = arith.extui %b0 : i8 to i32
          %u1 = arith.extui %b1 : i8 to i32
          %l0 = arith.andi %u0, %i15 : i32
          %l1 = arith.andi %u1, %i15 : i32
          %h0 = arith.shrui %u0, %i4 : i32
          %h1 = arith.shrui %u1, %i4 : i32
          %l0z = arith.subi %l0, %z : i32
          %l1z = arith.subi %l1, %z : i32
          %h0z = arith.subi %h0, %z : i32
          %h1z = arith.subi %h1, %z : i32
          %wl = func.call @pack_int_f16(%l0z, %l1z) : (i32, i32) -> i32
          %wh = func.call @pack_int_f16(%h0z, %h1z) : (i32, i32) -> i32
          scf.yield %wl, %wh : i32, i32
        } else {
          scf.yield %i0, %i0 : i32, i32
        }
        %wo = arith.muli %row, %c20 : index
        %wlo = arith.addi %wo, %p : index
        %whi = arith.addi %wlo, %c8 : index
        memref.store %lo, %ws[%wlo] : memref<1280xi32, #gpu.address_space<workgroup>>
        memref.store %hi, %ws[%whi] : memref<1280xi32, #gpu.address_space<workgroup>>
      }
    } else {
      scf.for %j = %c0 to %c8 step %c1 {
        %jo = arith.muli %j, %c128 : index
        %idx = arith.addi %tid, %jo : index
        %row = arith.divui %idx, %c16 : index
        %p = arith.remui %idx, %c16 : index
        %r = arith.addi %n0, %row : index
        %okr = arith.cmpi ult, %r, %rows : index
        %word = scf.if %okr -> (i32) {
          %si = func.call @scale_index(%r, %gk, %groups_per_row) : (index, index, index) -> index
          %zb = memref.load %zeros[%si] : memref<?xi8>
          %z = arith.extui %zb : i8 to i32
          %p2 = arith.muli %p, %c2 : index
          %cc = arith.addi %k0, %p2 : index
          %cc1 = arith.addi %cc, %c1 : index
          %rb = arith.muli %r, %row_bytes : index
          %at = arith.addi %rb, %cc : index
          %at1 = arith.addi %at, %c1 : index
          %ok0 = arith.cmpi ult, %cc, %cols : index
          %ok1 = arith.cmpi ult, %cc1, %cols : index
          // past the last column the activation is 0: any finite weight
          %u0 = func.call @byte_or_zero(%w, %at, %ok0) : (memref<?xi8>, index, i1) -> i32
          %u1 = func.call @byte_or_zero(%w, %at1, %ok1) : (memref<?xi8>, index, i1) -> i32
          %v0 = arith.subi %u0, %z : i32
          %v1 = arith.subi %u1, %z : i32
          %wd = func.call @pack_int_f16(%v0, %v1) : (i32, i32) -> i32
          scf.yield %wd : i32
        } else {
          scf.yield %i0 : i32
        }
        %wo = arith.muli %row, %c20 : index
        %wi = arith.addi %wo, %p : index
        memref.store %word, %ws[%wi] : memref<1280xi32, #gpu.address_space<workgroup>>
      }
    }
    // this stage's scale of each of the block's rows
    %scaler = arith.cmpi ult, %tid, %c64 : index
    scf.if %scaler {
      %r = arith.addi %n0, %tid : index
      %okr = arith.cmpi ult, %r, %rows : index
      %s = scf.if %okr -> (f32) {
        %si = func.call @scale_index(%r, %gk, %groups_per_row) : (index, index, index) -> index
        %sh = memref.load %scales[%si] : memref<?xf16>
        %sf = arith.extf %sh : f16 to f32
        scf.yield %sf : f32
      } else {
        scf.yield %zero : f32
      }
      memref.store %s, %ss[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
    }
    gpu.barrier

    scf.for %i = %c0 to %c32 step %c1 {
      memref.store %zero, %part[%i] : memref<32xf32, #gpu.address_space<private>>
    }
    scf.for %ks = %c0 to %c2 step %c1 {
      %kc = arith.muli %ks, %c16 : index
      %ca = arith.addi %kc, %q2 : index
      %cb = arith.addi %ca, %c8 : index
      scf.for %mt = %c0 to %c2 step %c1 {
        %mo = arith.muli %mt, %c16 : index
        %ra0 = arith.addi %wm32, %mo : index
        %ra = arith.addi %ra0, %g : index
        %rb = arith.addi %ra, %c8 : index
        %ob = arith.muli %mt, %c4 : index
        %pa = arith.muli %ra, %c40 : index
        %pb = arith.muli %rb, %c40 : index
        // registers 0..3: (row g, cols ca), (g + 8, ca), (g, cb), (g + 8, cb)
        scf.for %reg = %c0 to %c4 step %c1 {
          %high_row = arith.remui %reg, %c2 : index
          %far = arith.divui %reg, %c2 : index
          %is_hr = arith.cmpi ne, %high_row, %c0 : index
          %is_far = arith.cmpi ne, %far, %c0 : index
          %rowoff = arith.select %is_hr, %pb, %pa : index
          %colv = arith.select %is_far, %cb, %ca : index
          %e0 = arith.addi %rowoff, %colv : index
          %e1 = arith.addi %e0, %c1 : index
          %x0 = memref.load %xs[%e0] : memref<2560xf32, #gpu.address_space<workgroup>>
          %x1 = memref.load %xs[%e1] : memref<2560xf32, #gpu.address_space<workgroup>>
          %hi, %lo = func.call @split_f16(%x0, %x1) : (f32, f32) -> (i32, i32)
          %ri = arith.addi %ob, %reg : index
          memref.store %hi, %ahi[%ri] : memref<8xi32, #gpu.address_space<private>>
          memref.store %lo, %alo[%ri] : memref<8xi32, #gpu.address_space<private>>
        }
      }
      // B registers of tile nt: column g of the tile, words kc / 2 + q and + 4
      %kw = arith.divui %kc, %c2 : index
      %kwq = arith.addi %kw, %q : index
      scf.for %nt = %c0 to %c4 step %c1 {
        %no = arith.muli %nt, %c8 : index
        %nr0 = arith.addi %wn32, %no : index
        %nr = arith.addi %nr0, %g : index
        %wo = arith.muli %nr, %c20 : index
        %w0 = arith.addi %wo, %kwq : index
        %w1 = arith.addi %w0, %c4 : index
        %b0 = memref.load %ws[%w0] : memref<1280xi32, #gpu.address_space<workgroup>>
        %b1 = memref.load %ws[%w1] : memref<1280xi32, #gpu.address_space<workgroup>>
        %bi = arith.muli %nt, %c2 : index
        %bi1 = arith.addi %bi, %c1 : index
        memref.store %b0, %bf[%bi] : memref<8xi32, #gpu.address_space<private>>
        memref.store %b1, %bf[%bi1] : memref<8xi32, #gpu.address_space<private>>
      }
      scf.for %mt = %c0 to %c2 step %c1 {
        %ob = arith.muli %mt, %c4 : index
        %oa1 = arith.addi %ob, %c1 : index
        %oa2 = arith.addi %ob, %c2 : index
        %oa3 = arith.addi %oa2, %c1 : index
        %h0 = memref.load %ahi[%ob] : memref<8xi32, #gpu.address_space<private>>
        %h1 = memref.load %ahi[%oa1] : memref<8xi32, #gpu.address_space<private>>
        %h2 = memref.load %ahi[%oa2] : memref<8xi32, #gpu.address_space<private>>
        %h3 = memref.load %ahi[%oa3] : memref<8xi32, #gpu.address_space<private>>
        %l0 = memref.load %alo[%ob] : memref<8xi32, #gpu.address_space<private>>
        %l1 = memref.load %alo[%oa1] : memref<8xi32, #gpu.address_space<private>>
        %l2 = memref.load %alo[%oa2] : memref<8xi32, #gpu.address_space<private>>
        %l3 = memref.load %alo[%oa3] : memref<8xi32, #gpu.address_space<private>>
        scf.for %nt = %c0 to %c4 step %c1 {
          %bi = arith.muli %nt, %c2 : index
          %bi1 = arith.addi %bi, %c1 : index
          %b0 = memref.load %bf[%bi] : memref<8xi32, #gpu.address_space<private>>
          %b1 = memref.load %bf[%bi1] : memref<8xi32, #gpu.address_space<private>>
          %t4 = arith.addi %ob, %nt : index
          %pi0 = arith.muli %t4, %c4 : index
          %pi1 = arith.addi %pi0, %c1 : index
          %pi2 = arith.addi %pi0, %c2 : index
          %pi3 = arith.addi %pi2, %c1 : index
          %p0 = memref.load %part[%pi0] : memref<32xf32, #gpu.address_space<private>>
          %p1 = memref.load %part[%pi1] : memref<32xf32, #gpu.address_space<private>>
          %p2 = memref.load %part[%pi2] : memref<32xf32, #gpu.address_space<private>>
          %p3 = memref.load %part[%pi3] : memref<32xf32, #gpu.address_space<private>>
          %d0, %d1, %d2, %d3 = func.call @mma_f16(%h0, %h1, %h2, %h3, %b0, %b1, %p0, %p1, %p2, %p3)
            : (i32, i32, i32, i32, i32, i32, f32, f32, f32, f32) -> (f32, f32, f32, f32)
          %e0, %e1, %e2, %e3 = func.call @mma_f16(%l0, %l1, %l2, %l3, %b0, %b1, %d0, %d1, %d2, %d3)
            : (i32, i32, i32, i32, i32, i32, f32, f32, f32, f32) -> (f32, f32, f32, f32)
          memref.store %e0, %part[%pi0] : memref<32xf32, #gpu.address_space<private>>
          memref.store %e1, %part[%pi1] : memref<32xf32, #gpu.address_space<private>>
          memref.store %e2, %part[%pi2] : memref<32xf32, #gpu.address_space<private>>
          memref.store %e3, %part[%pi3] : memref<32xf32, #gpu.address_space<private>>
        }
      }
    }
    // acc += part * s[weight row] * 2^k[token]: c0, c2 are column 2q of
    // the tile, c1, c3 column 2q + 1; c0, c1 row g, c2, c3 row g + 8
    scf.for %i = %c0 to %c32 step %c1 {
      %col = func.call @acc_row(%i, %wn32, %q2) : (index, index, index) -> index
      %s = memref.load %ss[%col] : memref<64xf32, #gpu.address_space<workgroup>>
      %tk = func.call @acc_token(%i, %wm32, %g) : (index, index, index) -> index
      %up = memref.load %ts[%tk] : memref<64xf32, #gpu.address_space<workgroup>>
      %pv = memref.load %part[%i] : memref<32xf32, #gpu.address_space<private>>
      %av = memref.load %acc[%i] : memref<32xf32, #gpu.address_space<private>>
      %pu = arith.mulf %pv, %up : f32
      %na = math.fma %pu, %s, %av : f32
      memref.store %na, %acc[%i] : memref<32xf32, #gpu.address_space<private>>
    }
  }
  func.call @store_tiles(%acc, %y, %m0, %n0, %wm32, %wn32, %g, %q2, %n, %rows)
    : (memref<32xf32, #gpu.address_space<private>>, memref<?xf32>, index, index, index, index,
       index, index, index, index) -> ()
  gpu.return
}

// Writes a warp's 2 x 4 accumulator tiles (32 values a lane, tile-major,
// c0..c3 within a tile) to y[token, row], the part inside [n, rows].
func.func private @store_tiles(%acc: memref<32xf32, #gpu.address_space<private>>,
                               %y: memref<?xf32>, %m0: index, %n0: index, %wm32: index,
                               %wn32: index, %g: index, %q2: index, %n: index, %rows: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  scf.for %i = %c0 to %c32 step %c1 {
    %tl = func.call @acc_token(%i, %wm32, %g) : (index, index, index) -> index
    %t = arith.addi %m0, %tl : index
    %rl = func.call @acc_row(%i, %wn32, %q2) : (index, index, index) -> index
    %r = arith.addi %n0, %rl : index
    %v = memref.load %acc[%i] : memref<32xf32, #gpu.address_space<private>>
    func.call @store_out(%y, %t, %r, %n, %rows, %v)
      : (memref<?xf32>, index, index, index, index, f32) -> ()
  }
  return
}

// W8A8 prefill GEMM: y[t, r] = xscale[t] * sum_g s[r, g] * dot_g with dot_g
// the exact int32 sum over group g of (code - z) * q[t, c], as the CPU
// kernels and @qnt_gemv_w8a8 compute it (so the three agree to the bit up
// to the f32 rounding of the per-group products). Int8 tensor cores take
// the u8 codes as they are: sum (code - z) q = sum code q - z sum q, where
// sum q is one more instruction against a B of ones, and the correction
// starts each stage's int32 accumulator. A group's sum is scaled and added
// when the group ends. Block (32, 4), grid (ceil(rows / 64), ceil(n / 64)).
gpu.func @qnt_gemm_w8a8(%w: memref<?xi8>, %scales: memref<?xf16>, %zeros: memref<?xi8>,
                        %xq: memref<?xi8>, %xscale: memref<?xf32>, %y: memref<?xf32>,
                        %rows: index, %cols: index, %row_bytes: index,
                        %groups_per_row: index, %group_width: index, %n: index)
    workgroup(%qs: memref<768xi32, #gpu.address_space<workgroup>>,
              %ws: memref<768xi32, #gpu.address_space<workgroup>>,
              %ss: memref<64xf32, #gpu.address_space<workgroup>>,
              %zs: memref<64xi32, #gpu.address_space<workgroup>>)
    private(%facc: memref<32xf32, #gpu.address_space<private>>,
            %iacc: memref<32xi32, #gpu.address_space<private>>,
            %af: memref<8xi32, #gpu.address_space<private>>,
            %bf: memref<8xi32, #gpu.address_space<private>>,
            %sq: memref<4xi32, #gpu.address_space<private>>)
    kernel {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c12 = arith.constant 12 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %i0 = arith.constant 0 : i32
  %ones = arith.constant 0x01010101 : i32
  %zero = arith.constant 0.0 : f32
  %lane = gpu.thread_id x
  %warp = gpu.thread_id y
  %wbase = arith.muli %warp, %c32 : index
  %tid = arith.addi %wbase, %lane : index
  %g = arith.divui %lane, %c4 : index
  %q = arith.remui %lane, %c4 : index
  %q2 = arith.muli %q, %c2 : index
  %wm = arith.remui %warp, %c2 : index
  %wn = arith.divui %warp, %c2 : index
  %wm32 = arith.muli %wm, %c32 : index
  %wn32 = arith.muli %wn, %c32 : index
  %bx = gpu.block_id x
  %by = gpu.block_id y
  %n0 = arith.muli %bx, %c64 : index
  %m0 = arith.muli %by, %c64 : index
  %true = arith.constant true
  scf.for %i = %c0 to %c32 step %c1 {
    memref.store %zero, %facc[%i] : memref<32xf32, #gpu.address_space<private>>
    memref.store %i0, %iacc[%i] : memref<32xi32, #gpu.address_space<private>>
  }
  scf.for %k0 = %c0 to %cols step %c32 {
    gpu.barrier
    // codes: 64 tokens (activations) and 64 rows (weights) x 8 words
    scf.for %j = %c0 to %c4 step %c1 {
      %jo = arith.muli %j, %c128 : index
      %idx = arith.addi %tid, %jo : index
      %row = arith.divui %idx, %c8 : index
      %wd = arith.remui %idx, %c8 : index
      %w4 = arith.muli %wd, %c4 : index
      %cc = arith.addi %k0, %w4 : index
      %so = arith.muli %row, %c12 : index
      %si = arith.addi %so, %wd : index
      %tt = arith.addi %m0, %row : index
      %okt = arith.cmpi ult, %tt, %n : index
      %trow = arith.muli %tt, %cols : index
      %tat = arith.addi %trow, %cc : index
      %aw = func.call @word_of_bytes(%xq, %tat, %cc, %cols, %okt)
        : (memref<?xi8>, index, index, index, i1) -> i32
      memref.store %aw, %qs[%si] : memref<768xi32, #gpu.address_space<workgroup>>
      %r = arith.addi %n0, %row : index
      %okr = arith.cmpi ult, %r, %rows : index
      %rrow = arith.muli %r, %row_bytes : index
      %rat = arith.addi %rrow, %cc : index
      %bw = func.call @word_of_bytes(%w, %rat, %cc, %cols, %okr)
        : (memref<?xi8>, index, index, index, i1) -> i32
      memref.store %bw, %ws[%si] : memref<768xi32, #gpu.address_space<workgroup>>
    }
    %gk = func.call @group_of(%k0, %group_width, %groups_per_row) : (index, index, index) -> index
    %scaler = arith.cmpi ult, %tid, %c64 : index
    scf.if %scaler {
      %r = arith.addi %n0, %tid : index
      %okr = arith.cmpi ult, %r, %rows : index
      %s, %z = scf.if %okr -> (f32, i32) {
        %si = func.call @scale_index(%r, %gk, %groups_per_row) : (index, index, index) -> index
        %sh = memref.load %scales[%si] : memref<?xf16>
        %sf = arith.extf %sh : f16 to f32
        %zb = memref.load %zeros[%si] : memref<?xi8>
        %zi = arith.extui %zb : i8 to i32
        scf.yield %sf, %zi : f32, i32
      } else {
        scf.yield %zero, %i0 : f32, i32
      }
      memref.store %s, %ss[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %z, %zs[%tid] : memref<64xi32, #gpu.address_space<workgroup>>
    }
    gpu.barrier

    // A registers of tile mt: words q and q + 4 of rows g and g + 8; and
    // each of the two rows' sum of codes (one instruction against ones)
    scf.for %mt = %c0 to %c2 step %c1 {
      %mo = arith.muli %mt, %c16 : index
      %ra0 = arith.addi %wm32, %mo : index
      %ra = arith.addi %ra0, %g : index
      %rb = arith.addi %ra, %c8 : index
      %pa0 = arith.muli %ra, %c12 : index
      %pa = arith.addi %pa0, %q : index
      %pb0 = arith.muli %rb, %c12 : index
      %pb = arith.addi %pb0, %q : index
      %pa4 = arith.addi %pa, %c4 : index
      %pb4 = arith.addi %pb, %c4 : index
      %a0 = memref.load %qs[%pa] : memref<768xi32, #gpu.address_space<workgroup>>
      %a1 = memref.load %qs[%pb] : memref<768xi32, #gpu.address_space<workgroup>>
      %a2 = memref.load %qs[%pa4] : memref<768xi32, #gpu.address_space<workgroup>>
      %a3 = memref.load %qs[%pb4] : memref<768xi32, #gpu.address_space<workgroup>>
      %ob = arith.muli %mt, %c4 : index
      %o1 = arith.addi %ob, %c1 : index
      %o2 = arith.addi %ob, %c2 : index
      %o3 = arith.addi %o2, %c1 : index
      memref.store %a0, %af[%ob] : memref<8xi32, #gpu.address_space<private>>
      memref.store %a1, %af[%o1] : memref<8xi32, #gpu.address_space<private>>
      memref.store %a2, %af[%o2] : memref<8xi32, #gpu.address_space<private>>
      memref.store %a3, %af[%o3] : memref<8xi32, #gpu.address_space<private>>
      %s0, %s1, %s2, %s3 = func.call @mma_s8u8(%a0, %a1, %a2, %a3, %ones, %ones, %i0, %i0, %i0, %i0)
        : (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> (i32, i32, i32, i32)
      %sqi = arith.muli %mt, %c2 : index
      %sqi1 = arith.addi %sqi, %c1 : index
      memref.store %s0, %sq[%sqi] : memref<4xi32, #gpu.address_space<private>>
      memref.store %s2, %sq[%sqi1] : memref<4xi32, #gpu.address_space<private>>
    }
    scf.for %nt = %c0 to %c4 step %c1 {
      %no = arith.muli %nt, %c8 : index
      %nr0 = arith.addi %wn32, %no : index
      %nr = arith.addi %nr0, %g : index
      %wo = arith.muli %nr, %c12 : index
      %w0 = arith.addi %wo, %q : index
      %w1 = arith.addi %w0, %c4 : index
      %b0 = memref.load %ws[%w0] : memref<768xi32, #gpu.address_space<workgroup>>
      %b1 = memref.load %ws[%w1] : memref<768xi32, #gpu.address_space<workgroup>>
      %bi = arith.muli %nt, %c2 : index
      %bi1 = arith.addi %bi, %c1 : index
      memref.store %b0, %bf[%bi] : memref<8xi32, #gpu.address_space<private>>
      memref.store %b1, %bf[%bi1] : memref<8xi32, #gpu.address_space<private>>
    }
    scf.for %mt = %c0 to %c2 step %c1 {
      %ob = arith.muli %mt, %c4 : index
      %o1 = arith.addi %ob, %c1 : index
      %o2 = arith.addi %ob, %c2 : index
      %o3 = arith.addi %o2, %c1 : index
      %a0 = memref.load %af[%ob] : memref<8xi32, #gpu.address_space<private>>
      %a1 = memref.load %af[%o1] : memref<8xi32, #gpu.address_space<private>>
      %a2 = memref.load %af[%o2] : memref<8xi32, #gpu.address_space<private>>
      %a3 = memref.load %af[%o3] : memref<8xi32, #gpu.address_space<private>>
      %sqi = arith.muli %mt, %c2 : index
      %sqi1 = arith.addi %sqi, %c1 : index
      %sqa = memref.load %sq[%sqi] : memref<4xi32, #gpu.address_space<private>>
      %sqb = memref.load %sq[%sqi1] : memref<4xi32, #gpu.address_space<private>>
      scf.for %nt = %c0 to %c4 step %c1 {
        %bi = arith.muli %nt, %c2 : index
        %bi1 = arith.addi %bi, %c1 : index
        %b0 = memref.load %bf[%bi] : memref<8xi32, #gpu.address_space<private>>
        %b1 = memref.load %bf[%bi1] : memref<8xi32, #gpu.address_space<private>>
        %no = arith.muli %nt, %c8 : index
        %col0 = arith.addi %wn32, %no : index
        %col = arith.addi %col0, %q2 : index
        %colb = arith.addi %col, %c1 : index
        %z0 = memref.load %zs[%col] : memref<64xi32, #gpu.address_space<workgroup>>
        %z1 = memref.load %zs[%colb] : memref<64xi32, #gpu.address_space<workgroup>>
        %t4 = arith.addi %ob, %nt : index
        %pi0 = arith.muli %t4, %c4 : index
        %pi1 = arith.addi %pi0, %c1 : index
        %pi2 = arith.addi %pi0, %c2 : index
        %pi3 = arith.addi %pi2, %c1 : index
        %v0 = memref.load %iacc[%pi0] : memref<32xi32, #gpu.address_space<private>>
        %v1 = memref.load %iacc[%pi1] : memref<32xi32, #gpu.address_space<private>>
        %v2 = memref.load %iacc[%pi2] : memref<32xi32, #gpu.address_space<private>>
        %v3 = memref.load %iacc[%pi3] : memref<32xi32, #gpu.address_space<private>>
        // start from acc - z * sum q, so the instruction adds sum code q
        %k0z = arith.muli %z0, %sqa : i32
        %k1z = arith.muli %z1, %sqa : i32
        %k2z = arith.muli %z0, %sqb : i32
        %k3z = arith.muli %z1, %sqb : i32
        %u0 = arith.subi %v0, %k0z : i32
        %u1 = arith.subi %v1, %k1z : i32
        %u2 = arith.subi %v2, %k2z : i32
        %u3 = arith.subi %v3, %k3z : i32
        %d0, %d1, %d2, %d3 = func.call @mma_s8u8(%a0, %a1, %a2, %a3, %b0, %b1, %u0, %u1, %u2, %u3)
          : (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> (i32, i32, i32, i32)
        memref.store %d0, %iacc[%pi0] : memref<32xi32, #gpu.address_space<private>>
        memref.store %d1, %iacc[%pi1] : memref<32xi32, #gpu.address_space<private>>
        memref.store %d2, %iacc[%pi2] : memref<32xi32, #gpu.address_space<private>>
        memref.store %d3, %iacc[%pi3] : memref<32xi32, #gpu.address_space<private>>
      }
    }
    // the group ends with this stage: acc += s * dot, as the CPU kernels
    %next = arith.addi %k0, %c32 : index
    %at_end = arith.cmpi uge, %next, %cols : index
    %gn = func.call @group_of(%next, %group_width, %groups_per_row) : (index, index, index) -> index
    %new_group = arith.cmpi ne, %gn, %gk : index
    %flush = arith.ori %at_end, %new_group : i1
    scf.if %flush {
      scf.for %i = %c0 to %c32 step %c1 {
        %col = func.call @acc_row(%i, %wn32, %q2) : (index, index, index) -> index
        %s = memref.load %ss[%col] : memref<64xf32, #gpu.address_space<workgroup>>
        %dv = memref.load %iacc[%i] : memref<32xi32, #gpu.address_space<private>>
        %df = arith.sitofp %dv : i32 to f32
        %term = arith.mulf %s, %df : f32
        %av = memref.load %facc[%i] : memref<32xf32, #gpu.address_space<private>>
        %na = arith.addf %av, %term : f32
        memref.store %na, %facc[%i] : memref<32xf32, #gpu.address_space<private>>
        memref.store %i0, %iacc[%i] : memref<32xi32, #gpu.address_space<private>>
      }
    }
  }
  // y = xscale[token] * acc
  scf.for %i = %c0 to %c32 step %c1 {
    %tl = func.call @acc_token(%i, %wm32, %g) : (index, index, index) -> index
    %t = arith.addi %m0, %tl : index
    %okt = arith.cmpi ult, %t, %n : index
    scf.if %okt {
      %xs = memref.load %xscale[%t] : memref<?xf32>
      %av = memref.load %facc[%i] : memref<32xf32, #gpu.address_space<private>>
      %v = arith.mulf %xs, %av : f32
      memref.store %v, %facc[%i] : memref<32xf32, #gpu.address_space<private>>
    }
  }
  func.call @store_tiles(%facc, %y, %m0, %n0, %wm32, %wn32, %g, %q2, %n, %rows)
    : (memref<32xf32, #gpu.address_space<private>>, memref<?xf32>, index, index, index, index,
       index, index, index, index) -> ()
  gpu.return
}

}
}

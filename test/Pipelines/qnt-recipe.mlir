// Recipes are registered pipelines: qopt-opt runs qnt-recipe-NAME{options}
// on the one-block model, and `qopt compile --print-pipeline` prints the
// pipeline the recipe expands to, the same text for the same options.
// RUN: rm -rf %t && mkdir -p %t && %tinyparams %t/tiny.safetensors
//
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors %tinycalib -pass-pipeline='builtin.module(qnt-recipe-awq-gptq{bits=4 act-order=true})' --dump-pass-pipeline -o %t/awq-gptq.mlir 2> %t/dump.txt
// RUN: FileCheck %s --check-prefix=EXPAND --input-file %t/dump.txt
// EXPAND: qnt-awq{bits=4 clip=false {{.*}}group-size=32
// EXPAND: qnt-gptq{act-order=true bits=4 {{.*}}clip-search=true
// RUN: FileCheck %s --check-prefix=AWQGPTQ --input-file %t/awq-gptq.mlir
// AWQGPTQ: qnt.qparam "w1" <format = int, bits = 4, group_size = 32, symmetric = true
// AWQGPTQ: qnt.qparam "w2" <format = int, bits = 4, group_size = 32, symmetric = true
//
// qopt compile prints the same expansion for the same flags.
// RUN: qopt compile %shared/models/stories260K/stories260K.bin -o %t/x.mlir --recipe awq-gptq --bits 4 --act-order --print-pipeline > %t/compile.txt
// RUN: tr -d ' \n' < %t/dump.txt | sed 's/^PassManagerwith[0-9]*passes://' > %t/opt.txt
// RUN: tr -d ' \n' < %t/compile.txt > %t/compile-flat.txt
// RUN: cmp %t/opt.txt %t/compile-flat.txt
//
// The common options (kv-cache, lm-head) follow any recipe.
// RUN: qopt-opt %tinymodel --params %t/tiny.safetensors -pass-pipeline='builtin.module(qnt-recipe-rtn{bits=8 group-size=0 kv-cache=f16 lm-head-bits=8})' | FileCheck %s --check-prefix=COMMON
// COMMON: element_type = f16
// COMMON: qnt.qparam "w1" <format = int, bits = 8, group_size = 0,
// COMMON: qnt.qparam "emb" <format = int, bits = 8
// COMMON: qnt.lm_head
//
// The fp32 recipe is the empty pipeline.
// RUN: qopt compile %shared/models/stories260K/stories260K.bin -o %t/x.mlir --recipe fp32 --print-pipeline | FileCheck %s --check-prefix=FP32
// FP32: {{^}}builtin.module(){{$}}
//
// An option the recipe does not read is refused, in both tools, naming what
// it does read; so is a recipe flag beside an explicit --pipeline.
// RUN: not qopt-opt %tinymodel -pass-pipeline='builtin.module(qnt-recipe-rtn{alpha=0.3})' 2>&1 | FileCheck %s --check-prefix=UNUSED
// UNUSED: qnt-recipe-rtn: alpha does not apply to recipe rtn (it reads bits, group-size, symmetric)
// RUN: not qopt compile %shared/models/stories260K/stories260K.bin -o %t/x.mlir --recipe rtn --act-order 2>&1 | FileCheck %s --check-prefix=UNUSEDFLAG
// UNUSEDFLAG: qopt compile: error: --act-order does not apply to recipe rtn (it reads --bits, --group-size, --symmetric)
// RUN: not qopt compile %shared/models/stories260K/stories260K.bin -o %t/x.mlir --recipe fp32 --bits 4 2>&1 | FileCheck %s --check-prefix=FP32FLAG
// FP32FLAG: qopt compile: error: --bits does not apply to recipe fp32 (it reads none of the recipe options)
// RUN: not qopt compile %shared/models/stories260K/stories260K.bin -o %t/x.mlir --pipeline 'qnt-quantize-weights' --bits 3 2>&1 | FileCheck %s --check-prefix=WITHPIPE
// WITHPIPE: qopt compile: error: --bits applies to recipes; with --pipeline, give the pass its own option
// RUN: not qopt-opt %tinymodel -pass-pipeline='builtin.module(qnt-recipe-rtn{lm-head-bits=1})' 2>&1 | FileCheck %s --check-prefix=LMHEAD
// LMHEAD: qnt-recipe-rtn: lm-head-bits must be 0 (keep float) or in [2, 8], got 1
// RUN: not qopt-opt %tinymodel -pass-pipeline='builtin.module(qnt-recipe-rtn{kv-cache=f8})' 2>&1 | FileCheck %s --check-prefix=KV
// KV: qnt-recipe-rtn: kv-cache must be f32, f16 or i8, not 'f8'
// RUN: not qopt compile %shared/models/stories260K/stories260K.bin -o %t/x.mlir --recipe rtn --lm-head-group-size 32 2>&1 | FileCheck %s --check-prefix=GROUPONLY
// GROUPONLY: qopt compile: error: --lm-head-group-size needs --lm-head-bits
// RUN: not ls %t/x.mlir
//
// qopt-opt --help lists every recipe.
// RUN: qopt-opt --help | FileCheck %s --check-prefix=HELP
// HELP-DAG: qnt-recipe-awq-gptq {{.*}}Recipe awq-gptq: AWQ scales, then GPTQ
// HELP-DAG: qnt-recipe-mixed
// HELP-DAG: qnt-recipe-w8a8
//
// A recipe that needs calibration fails before any work (here: before the
// perplexity of --eval is measured), with its first pass's message.
// RUN: not qopt compile %shared/models/stories260K/stories260K.bin -o %t/x.mlir --recipe awq-gptq --eval %shared/data/tinystories/sample.txt 2>&1 | FileCheck %s --check-prefix=EARLY
// EARLY-NOT: perplexity before
// EARLY: qopt compile: error: qnt-awq needs calibration data (--calib FILE)
// EARLY-NOT: perplexity before

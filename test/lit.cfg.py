# lit configuration for qopt. Tests read the real model from ../shared.
import os
import lit.formats

config.name = "qopt"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "unittests", "CMakeLists.txt", "lit.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qopt_obj_root, "test")

config.environment["PATH"] = os.pathsep.join(
    [config.qopt_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])

shared = os.path.abspath(os.path.join(config.qopt_src_root, "..", "shared"))
config.substitutions.append(("%shared", shared))
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%pyref", os.path.join(config.qopt_src_root, "python")))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
# The one-block model %tinymodel (test/Inputs/tiny-model.mlir): %tinyparams OUT writes
# its parameters (channel 3 of the embedding an outlier), %tinycalib gives
# qopt-opt a little calibration text encoded for its 512-token vocabulary.
tiny_gen = "/usr/bin/python3 " + os.path.join(config.test_source_root, "Inputs", "make_params.py")
config.substitutions.append(("%tinyparams", tiny_gen + " --tiny"))
config.substitutions.append(("%tinycalib", "--calib " + os.path.join(shared, "data", "tinystories",
                             "dev.txt") + " --calib-tokenizer " + os.path.join(
                             shared, "models", "stories260K", "tok512.bin") +
                             " --calib-samples 4 --calib-seqlen 32"))
config.substitutions.append(("%tinymodel", os.path.join(config.test_source_root, "Inputs",
                                                    "tiny-model.mlir")))
# The runtime libraries programs link against.
config.substitutions.append(("%qrtlib", os.path.join(config.qopt_obj_root, "lib")))
# The stand-in CUDA driver (test/cuda/mock_driver.c) that emulates the kernels.
config.substitutions.append(("%mockcuda", os.path.join(config.qopt_obj_root, "lib",
                                                       "libqrt_mock_cuda.so")))
# The CUDA toolkit's PTX assembler checks every generated PTX module.
config.substitutions.append(("%ptxas", os.environ.get("QOPT_PTXAS", "/usr/local/cuda/bin/ptxas")))

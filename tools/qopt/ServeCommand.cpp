//===- ServeCommand.cpp - qopt serve ---------------------------------------===//
//
// Builds (or reuses) a model's CPU program and runs it as the OpenAI server:
//   qopt serve MODEL [--program PATH] [--port 8080 --parallel 4 ...]
// is `qopt build MODEL -o PATH` followed by `PATH --serve ...`. With
// --program the built program stays (and is reused while it is newer than
// MODEL); without it the program lives in a temporary directory removed when
// the server exits. The server is the program's own (README, "Serving"):
// this command adds nothing to it but the build.
//
//===----------------------------------------------------------------------===//
#include "Common.h"
#include "CpuArtifacts.h"

#include "qopt/Support/Error.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <csignal>
#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>

namespace cl = llvm::cl;

namespace qopt::tool {

static cl::opt<std::string> modelArg(cl::Positional, cl::Required, cl::desc("<model>"),
                                     cl::sub(serveCmd), cl::cat(category));
static cl::opt<std::string>
    programOpt("program",
               cl::desc("Where the built program goes and stays (PATH and PATH.qrtw); "
                        "reused while newer than the model (default: a temporary directory)"),
               cl::value_desc("path"), cl::init(""), cl::sub(serveCmd), cl::cat(category));
static cl::opt<bool> actInt8Opt("act-int8",
                                cl::desc("As qopt build --act-int8 (default true)"),
                                cl::init(true), cl::sub(serveCmd), cl::cat(category));
// The server's options, handed to the program as they are (it checks them).
static cl::opt<std::string> hostOpt("host", cl::desc("Address to listen on (default 127.0.0.1)"),
                                    cl::sub(serveCmd), cl::cat(category));
static cl::opt<std::string> portOpt("port", cl::desc("Port (default 8080; 0: any free one)"),
                                    cl::sub(serveCmd), cl::cat(category));
static cl::opt<std::string> apiKeyOpt("api-key",
                                      cl::desc("Require 'Authorization: Bearer KEY'"),
                                      cl::sub(serveCmd), cl::cat(category));
static cl::opt<std::string> parallelOpt("parallel",
                                        cl::desc("Sequences decoded at once (default 4)"),
                                        cl::sub(serveCmd), cl::cat(category));
static cl::opt<std::string> ctxOpt("ctx",
                                   cl::desc("Positions of each sequence's KV cache (default: "
                                            "the model's context)"),
                                   cl::sub(serveCmd), cl::cat(category));
static cl::opt<std::string> queueOpt("queue",
                                     cl::desc("Requests that may wait for a sequence (default 64)"),
                                     cl::sub(serveCmd), cl::cat(category));
static cl::opt<std::string> maxBodyOpt("max-body",
                                       cl::desc("Largest request body in bytes (default 1 MiB)"),
                                       cl::sub(serveCmd), cl::cat(category));
static cl::opt<std::string> serveThreadsOpt("threads",
                                            cl::desc("Worker threads (default: one per "
                                                     "hardware thread)"),
                                            cl::sub(serveCmd), cl::cat(category));

/// The newest modification time under `path` (a file, or a directory's files).
static llvm::sys::TimePoint<> newestTime(llvm::StringRef path) {
  llvm::sys::fs::file_status st;
  llvm::sys::TimePoint<> newest;
  if (llvm::sys::fs::status(path, st))
    return newest;
  newest = st.getLastModificationTime();
  if (st.type() != llvm::sys::fs::file_type::directory_file)
    return newest;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(path, ec), end; it != end && !ec; it.increment(ec))
    if (!llvm::sys::fs::status(it->path(), st) && st.getLastModificationTime() > newest)
      newest = st.getLastModificationTime();
  return newest;
}

/// Whether `program` and its weights exist and are newer than the model.
static bool upToDate(llvm::StringRef program, llvm::StringRef model) {
  llvm::sys::fs::file_status exe, weights;
  if (llvm::sys::fs::status(program, exe) || llvm::sys::fs::status(program + ".qrtw", weights))
    return false;
  auto built = std::min(exe.getLastModificationTime(), weights.getLastModificationTime());
  return built > newestTime(model);
}

static pid_t gChild = -1;
extern "C" void forwardToServer(int sig) {
  if (gChild > 0)
    kill(gChild, sig);
}

/// Runs the program as the server; returns its exit status.
static int runServer(const std::string &program) {
  std::vector<std::string> args = {program, "--serve"};
  auto pass = [&](const char *flag, const cl::opt<std::string> &o) {
    if (o.getNumOccurrences())
      args.insert(args.end(), {flag, o.getValue()});
  };
  pass("--host", hostOpt);
  pass("--port", portOpt);
  pass("--api-key", apiKeyOpt);
  pass("--parallel", parallelOpt);
  pass("--ctx", ctxOpt);
  pass("--queue", queueOpt);
  pass("--max-body", maxBodyOpt);
  pass("--threads", serveThreadsOpt);
  std::vector<char *> argv;
  for (auto &a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  gChild = fork();
  if (gChild < 0) {
    llvm::errs() << "qopt serve: error: cannot start the program: " << strerror(errno) << "\n";
    return 1;
  }
  if (gChild == 0) {
    execv(argv[0], argv.data());
    fprintf(stderr, "qopt serve: error: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  // SIGTERM is forwarded (the server drains); Ctrl-C reaches the server
  // through the terminal's process group, so qopt itself only waits
  struct sigaction forward = {};
  forward.sa_handler = forwardToServer;
  sigemptyset(&forward.sa_mask);
  sigaction(SIGTERM, &forward, nullptr);
  signal(SIGINT, SIG_IGN);
  int status = 0;
  while (waitpid(gChild, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    llvm::errs() << "qopt serve: the server ended by signal " << WTERMSIG(status) << "\n";
    return 1;
  }
  return WEXITSTATUS(status);
}

static llvm::Expected<int> serve() {
  std::string program = programOpt;
  llvm::SmallString<128> tempDir;
  if (program.empty()) {
    if (auto ec = llvm::sys::fs::createUniqueDirectory("qopt-serve", tempDir))
      return makeError("cannot create a temporary directory: " + ec.message());
    llvm::StringRef stem = llvm::sys::path::stem(llvm::sys::path::remove_leading_dotslash(
        llvm::StringRef(modelArg).rtrim('/')));
    program = (tempDir + "/" + (stem.empty() ? "model" : stem)).str();
  }
  if (!programOpt.empty() && upToDate(program, modelArg)) {
    llvm::errs() << "qopt serve: " << program << " is newer than " << modelArg
                 << ": serving it as built\n";
  } else {
    if (auto err = checkOutputDirectory(program))
      return std::move(err);
    llvm::errs() << "qopt serve: building " << program << " ...\n";
    auto model = loadModel(modelArg, tokenizerOpt);
    if (!model)
      return model.takeError();
    CpuArtifactRequest request;
    request.out = program;
    request.cpu.int8Activations = actInt8Opt;
    if (auto err = emitCpuArtifacts(*model->module, *model->params, model->tokenizerPath, request))
      return std::move(err);
  }
  int rc = runServer(program);
  if (!tempDir.empty())
    llvm::sys::fs::remove_directories(tempDir);
  return rc;
}

int runServe() {
  auto rc = serve();
  if (!rc)
    return finish("serve", rc.takeError());
  return *rc;
}

} // namespace qopt::tool

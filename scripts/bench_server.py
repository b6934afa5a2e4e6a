#!/usr/bin/python3
"""Load benchmark of a built program's OpenAI server (PROGRAM --serve), beside llama-server.

  /usr/bin/python3 scripts/bench_server.py [--model stories110M] [--clients 1,4,8]
      [--requests 4] [--max-tokens 128] [--threads 2] [--llama-server]

The model is the synthetic checkpoint of --model (scripts/synth_model.py), quantized w4 g32
with its classifier in the same blocks (llama.cpp's Q4_0, as bench_llamacpp.py pairs them)
and an f16 KV cache. For each client count C, the server runs with C sequences
(--parallel C; llama-server -np C with C x --ctx positions), and C client threads each send
--requests streamed completions one after another: greedy, --max-tokens tokens, prompts
cut from TinyStories dev.txt (each request its own). Measured: generated tokens per second
over all clients (from the usage chunk, stream_options.include_usage), time to first token
and whole-request latency (median and 90th percentile), and the decode gap between tokens
seen by one client. With --llama-server, llama.cpp's server (built from the npm bundle as
bench_llamacpp.py does) serves the same weights as Q4_0 GGUF and is measured right after
qopt at each client count, so the two sides of a row share the machine's state.
"""
import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
import bench_cpu  # noqa: E402
import bench_llamacpp  # noqa: E402
from qopt_runtime import Model  # noqa: E402
from qopt_ref import gguf_export, llama  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def prompts(count, words=24):
    """`count` different prompts of about `words` words each from dev.txt."""
    with open(os.path.join(bench_cpu.SHARED, "data", "tinystories", "dev.txt")) as f:
        text = f.read().split()
    return [" ".join(text[i * words:(i + 1) * words]) for i in range(count)]


def stream_one(port, body, model):
    """One streamed request: (seconds to the first text, seconds in all, tokens).

    A raw socket, and JSON parsed only where needed: the client shares the
    machine's two cores with the server, so it must cost little per token."""
    payload = dict(body, stream=True, stream_options={"include_usage": True})
    if model:
        payload["model"] = model
    data = json.dumps(payload).encode()
    t0 = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port), timeout=600)
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nConnection: close\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(data) + data)
    buf, first = b"", None
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        if first is None and b'"text":"' in buf.replace(b'"text":""', b""):
            first = time.perf_counter() - t0
        if b"data: [DONE]" in buf[-64:]:
            break
    sock.close()
    whole = time.perf_counter() - t0
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n")[0].decode() + " " + rest[:200].decode("replace"))
    tokens = None
    for line in rest.split(b"\n"):
        if line.startswith(b"data: {") and b'"usage"' in line:
            usage = json.loads(line[6:]).get("usage")
            if usage:
                tokens = usage["completion_tokens"]
    if tokens is None:
        raise RuntimeError("the stream carried no usage chunk")
    return first or whole, whole, tokens


def load(port, clients, texts, args, model=None):
    """C clients, each sending its share of `texts` in turn."""
    results, errors = [], []
    lock = threading.Lock()

    def client(i):
        for j in range(args.requests):
            body = {"prompt": texts[i * args.requests + j], "max_tokens": args.max_tokens,
                    "temperature": 0}
            try:
                r = stream_one(port, body, model)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(str(e))
                return
            with lock:
                results.append(r)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        sys.exit("error: " + errors[0])
    tokens = sum(r[2] for r in results)
    first = sorted(r[0] for r in results)
    whole = sorted(r[1] for r in results)
    gaps = [(r[1] - r[0]) / (r[2] - 1) for r in results if r[2] > 1]

    def pct(xs, p):
        return xs[min(len(xs) - 1, int(p * len(xs)))]
    return {"tok_s": tokens / wall, "tokens": tokens, "wall": wall,
            "ttft50": statistics.median(first), "ttft90": pct(first, 0.9),
            "lat50": statistics.median(whole), "lat90": pct(whole, 0.9),
            "gap_ms": 1000 * statistics.median(gaps) if gaps else 0.0}


class Process:
    """A server process that prints or answers once it listens."""

    def __init__(self, argv, port=None):
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        if port is None:  # qopt's program prints the port it took
            line = self.proc.stderr.readline()
            m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if not m:
                self.proc.kill()
                sys.exit("error: the program did not start serving: " + line)
            self.port = int(m.group(1))
        else:
            self.port = port
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        for _ in range(600):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                sys.exit(f"error: {argv[0]} exited with {self.proc.returncode}")
            time.sleep(0.2)
        sys.exit(f"error: {argv[0]} did not answer /health")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runtime_alone(library, clients, args, steps=32):
    """qrt_decode_batch's tokens/s at each batch size, through the C API with no
    server: the ceiling the server's decode steps approach."""
    out = {}
    with Model(library, threads=args.threads, sequences=max(clients),
               positions=args.ctx) as m:
        prompt = m.encode(prompts(1)[0])[:32]
        for b in clients:
            for s in range(b):
                m.forward_seq(s, prompt, 0, last_only=True)
            n = len(prompt)
            m.decode_batch([prompt[-1]] * b, list(range(b)), [n] * b)  # warm
            t0 = time.perf_counter()
            for i in range(steps):
                m.decode_batch([prompt[i % n]] * b, list(range(b)), [n + 1 + i] * b)
            out[b] = b * steps / (time.perf_counter() - t0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="stories110M")
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--requests", type=int, default=4, help="requests per client")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--ctx", type=int, default=256, help="positions per sequence")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--llama-server", action="store_true")
    ap.add_argument("--work", default=os.path.join(bench_cpu.ROOT, "build", "bench-cpu"))
    ap.add_argument("--llamacpp", default=os.path.join(bench_cpu.ROOT, "build", "llamacpp"))
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    os.makedirs(args.work, exist_ok=True)
    path, tokenizer = bench_cpu.model_path(args.model, args.work)
    stem = os.path.join(args.work, f"{args.model}-serve-w4g32")
    if not os.path.exists(stem):
        log(f"compiling {args.model} w4 g32 ...")
        subprocess.run([bench_cpu.QOPT, "compile", path, "-o", stem + ".mlir", "--recipe", "rtn",
                        "--bits", "4", "--group-size", "32", *bench_llamacpp.AS_Q4_0,
                        *tokenizer], check=True, stdout=subprocess.DEVNULL)
        bench_cpu.build(stem, stem)
    library = os.path.join(args.work, f"lib{os.path.basename(stem)}.so")
    if not os.path.exists(library):
        subprocess.run([bench_cpu.QOPT, "build", stem + ".mlir", "-o", stem, "--emit", "shared"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    alone = runtime_alone(library, clients, args)
    bindir, gguf = None, None
    if args.llama_server:
        bindir = bench_llamacpp.build_llamacpp(args.llamacpp, ("llama-server",))
        gguf = os.path.join(args.work, f"{args.model}-Q4_0.gguf")
        if not os.path.exists(gguf):
            cfg, w = llama.read_llama2c(path)
            gguf_export.export(cfg, w, gguf, "Q4_0", bench_cpu.LLAMA2_TOKENIZER, args.model)
            del w
    texts = prompts(max(clients) * args.requests + 1)
    rows = []
    for c in clients:
        sides = [("qopt", [stem, "--serve", "--port", "0", "--parallel", str(c), "--ctx",
                           str(args.ctx), "--threads", str(args.threads)], None)]
        if bindir:
            port = free_port()
            sides.append(("llama-server", [os.path.join(bindir, "llama-server"), "-m", gguf,
                                           "--port", str(port), "-t", str(args.threads),
                                           "-tb", str(args.threads), "-np", str(c), "-c",
                                           str(args.ctx * c), "--no-webui", "-ngl", "0"], port))
        for name, argv, port in sides:
            server = Process(argv, port)
            try:
                load(server.port, 1, texts[-1:], argparse.Namespace(
                    requests=1, max_tokens=8))  # warm the pages and caches
                r = load(server.port, c, texts, args)
            finally:
                server.stop()
            rows.append((c, name, r))
            log(f"  {c} clients, {name}: {r['tok_s']:.1f} tok/s, TTFT p50 "
                f"{r['ttft50'] * 1000:.0f} ms, token gap {r['gap_ms']:.1f} ms")
    print(f"\n{args.model} w4 g32 (Q4_0), {args.threads} threads, greedy, "
          f"{args.requests} requests per client of {args.max_tokens} tokens, prompts of about "
          f"24 words, f16 KV cache; {time.strftime('%Y-%m-%d')}\n")
    print("| clients | server | generated tok/s (all clients) | x one client | "
          "TTFT p50 / p90 ms | request p50 / p90 s | token gap p50 ms | "
          "qrt_decode_batch alone tok/s |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    one = {name: r["tok_s"] for c, name, r in rows if c == clients[0]}
    for c, name, r in rows:
        ceiling = f"{alone[c]:.0f}" if name == "qopt" else ""
        print(f"| {c} | {name} | {r['tok_s']:.1f} | {r['tok_s'] / one[name]:.1f} | "
              f"{r['ttft50'] * 1000:.0f} / {r['ttft90'] * 1000:.0f} | "
              f"{r['lat50']:.2f} / {r['lat90']:.2f} | {r['gap_ms']:.1f} | {ceiling} |")


if __name__ == "__main__":
    main()

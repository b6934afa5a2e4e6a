"""The OpenAI-compatible server of a built program (PROGRAM --serve), driven
over loopback with Python's http.client: completions and chat, streamed and
not, stop strings, seeds; the text equals the program's own CLI output for
the same prompt and sampling options; 4 concurrent greedy requests equal
their one-at-a-time replies token for token (the batched decode step is
exact on these kernels: stories260K w4 g32 with int8 activation blocks, and
fp32); bad requests get OpenAI's error body and status, and the server
keeps answering with no slot leaked; SIGTERM lets a stream finish.

  QOPT=build/bin/qopt QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_server.py
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

QOPT = os.environ.get("QOPT", "build/bin/qopt")
SHARED = os.environ.get("QOPT_SHARED", os.path.join(os.path.dirname(__file__), "..", "..",
                                                    "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260K", "stories260K.bin")
TOKENIZER = os.path.join(SHARED, "models", "stories260K", "tok512.bin")
PROMPTS = ["Once upon a time", "The little dog", "Lily and Tom went to the park", "One day"]


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True)


class Server:
    """A program started with --serve on a free port; stopped with SIGTERM."""

    def __init__(self, program, *args, argv=None):
        self.proc = subprocess.Popen(argv or [program, "--serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.before = []  # what was printed before the serving line
        for line in self.proc.stderr:
            m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                return
            self.before.append(line)
        self.proc.kill()
        raise RuntimeError("server did not start: " + "".join(self.before))

    def request(self, method, path, body=None, headers=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        conn.request(method, path, body=data, headers=headers or {})
        res = conn.getresponse()
        text = res.read().decode("utf-8")
        conn.close()
        return res.status, text

    def post(self, path, body, headers=None):
        status, text = self.request("POST", path, body, headers)
        return status, json.loads(text)

    def stream(self, path, body):
        """The data payloads of a stream, up to and without [DONE]."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", path, body=json.dumps(dict(body, stream=True)))
        res = conn.getresponse()
        assert res.status == 200, res.read()
        assert res.getheader("Content-Type").startswith("text/event-stream")
        events, done = [], False
        for line in res.read().decode("utf-8").split("\n"):
            if not line.startswith("data: "):
                assert line == "", line
                continue
            payload = line[len("data: "):]
            if payload == "[DONE]":
                done = True
                continue
            assert not done, "data after [DONE]"
            events.append(json.loads(payload))
        conn.close()
        assert done, "the stream did not end with [DONE]"
        return events

    def metrics(self):
        status, text = self.request("GET", "/metrics")
        assert status == 200
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        mlir = os.path.join(d, "w4.mlir")
        run(QOPT, "compile", MODEL, "--tokenizer", TOKENIZER, "--recipe", "rtn", "--bits", "4",
            "-o", mlir)
        cls.program = os.path.join(d, "w4")
        run(QOPT, "build", mlir, "-o", cls.program)
        fp32 = os.path.join(d, "fp32.mlir")
        run(QOPT, "compile", MODEL, "--tokenizer", TOKENIZER, "--recipe", "fp32", "-o", fp32)
        cls.fp32 = os.path.join(d, "fp32")
        run(QOPT, "build", fp32, "-o", cls.fp32, "--act-int8=false")
        cls.server = Server(cls.program, "--parallel", "4")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def cli(self, program, prompt, n, temp, top_p=0.9, seed=42):
        """What the program prints after the prompt's echo for -p/--n-predict."""
        out = run(program, "-p", prompt, "--n-predict", str(n), "-t", str(temp), "--top-p",
                  str(top_p), "--seed", str(seed)).stdout
        self.assertTrue(out.startswith(prompt), out)
        self.assertTrue(out.endswith("\n"))
        return out[len(prompt):-1]

    def complete(self, server=None, **body):
        status, reply = (server or self.server).post("/v1/completions", body)
        self.assertEqual(status, 200, reply)
        return reply

    def test_health_and_models(self):
        self.assertEqual(self.server.request("GET", "/health"), (200, '{"status":"ok"}'))
        status, text = self.server.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        models = json.loads(text)
        self.assertEqual(models["object"], "list")
        self.assertEqual([m["id"] for m in models["data"]], ["w4"])

    def test_completion_equals_the_program_cli(self):
        for temp, top_p, seed in ((0, 1.0, 1), (0.8, 0.9, 7), (1.0, 0.5, 123456789)):
            with self.subTest(temperature=temp, top_p=top_p, seed=seed):
                want = self.cli(self.program, PROMPTS[0], 40, temp, top_p, seed)
                reply = self.complete(prompt=PROMPTS[0], max_tokens=40, temperature=temp,
                                      top_p=top_p, seed=seed, model="w4")
                choice = reply["choices"][0]
                self.assertEqual(choice["text"], want)
                self.assertEqual(reply["object"], "text_completion")
                self.assertIn(choice["finish_reason"], ("stop", "length"))
                usage = reply["usage"]
                self.assertEqual(usage["total_tokens"],
                                 usage["prompt_tokens"] + usage["completion_tokens"])
                # the same seed again: the same text
                again = self.complete(prompt=PROMPTS[0], max_tokens=40, temperature=temp,
                                      top_p=top_p, seed=seed)
                self.assertEqual(again["choices"][0]["text"], want)

    def test_stream_equals_the_whole_reply(self):
        body = dict(prompt=PROMPTS[1], max_tokens=300, temperature=0.9, top_p=0.9, seed=5,
                    stop="never-there")
        whole = self.complete(**body)["choices"][0]
        events = self.server.stream("/v1/completions", body)
        self.assertTrue(all(e["object"] == "text_completion" for e in events))
        self.assertEqual(len({e["id"] for e in events}), 1)
        self.assertEqual("".join(e["choices"][0]["text"] for e in events), whole["text"])
        self.assertTrue(all(e["choices"][0]["finish_reason"] is None for e in events[:-1]))
        self.assertEqual(events[-1]["choices"][0]["finish_reason"], whole["finish_reason"])
        # text as it comes, not all at the end (how many pieces depends on
        # how fast the handler wakes, so only "more than one" is asserted)
        self.assertGreaterEqual(sum(1 for e in events if e["choices"][0]["text"]), 2)
        # stream_options.include_usage: one more chunk, no choices, the usage
        with_usage = self.server.stream("/v1/completions",
                                        dict(body, stream_options={"include_usage": True}))
        self.assertEqual("".join(e["choices"][0]["text"] for e in with_usage[:-1]), whole["text"])
        self.assertEqual(with_usage[-1]["choices"], [])
        self.assertEqual(with_usage[-1]["usage"], self.complete(**body)["usage"])

    def test_chat(self):
        messages = [{"role": "system", "content": "Tell a story."},
                    {"role": "user", "content": "A story about a cat"}]
        body = dict(messages=messages, max_tokens=30, temperature=0)
        status, reply = self.server.post("/v1/chat/completions", body)
        self.assertEqual(status, 200, reply)
        self.assertEqual(reply["object"], "chat.completion")
        message = reply["choices"][0]["message"]
        self.assertEqual(message["role"], "assistant")
        # stories260K has no chat template: the documented default renders
        # "role: content" lines and "assistant:" (README, Serving)
        rendered = "system: Tell a story.\nuser: A story about a cat\nassistant:"
        self.assertEqual(message["content"],
                         self.complete(prompt=rendered, max_tokens=30, temperature=0)
                         ["choices"][0]["text"])
        events = self.server.stream("/v1/chat/completions", body)
        self.assertEqual(events[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        self.assertTrue(all(e["object"] == "chat.completion.chunk" for e in events))
        self.assertEqual("".join(e["choices"][0]["delta"].get("content", "") for e in events),
                         message["content"])
        self.assertEqual(events[-1]["choices"][0]["finish_reason"],
                         reply["choices"][0]["finish_reason"])
        # content as a list of text parts
        parts = [{"role": "system", "content": [{"type": "text", "text": "Tell a story."}]},
                 messages[1]]
        status, again = self.server.post("/v1/chat/completions", dict(body, messages=parts))
        self.assertEqual(again["choices"][0]["message"], message)

    def test_stop_strings(self):
        full = self.complete(prompt=PROMPTS[0], max_tokens=80, temperature=0)["choices"][0]["text"]
        words = full.split()
        stop = " " + words[len(words) // 2]  # a word in the middle, with its space
        cut = full[:full.index(stop)]
        for stops in (stop, [stop, "qqqq"]):
            reply = self.complete(prompt=PROMPTS[0], max_tokens=80, temperature=0, stop=stops)
            self.assertEqual(reply["choices"][0]["text"], cut)
            self.assertEqual(reply["choices"][0]["finish_reason"], "stop")
            events = self.server.stream("/v1/completions",
                                        dict(prompt=PROMPTS[0], max_tokens=80, temperature=0,
                                             stop=stops))
            self.assertEqual("".join(e["choices"][0]["text"] for e in events), cut)
        # a stop string that never comes changes nothing
        reply = self.complete(prompt=PROMPTS[0], max_tokens=80, temperature=0, stop="zzzz")
        self.assertEqual(reply["choices"][0]["text"], full)

    def test_concurrent_requests_equal_one_at_a_time(self):
        for program in (self.program, self.fp32):
            server = self.server if program == self.program else Server(program, "--parallel",
                                                                        "4")
            try:
                bodies = [dict(prompt=p, max_tokens=400, temperature=0) for p in PROMPTS]
                alone = [self.complete(server, **b)["choices"][0]["text"] for b in bodies]
                got = [None] * len(bodies)

                def ask(i):
                    got[i] = self.complete(server, **bodies[i])["choices"][0]["text"]
                threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(bodies))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                self.assertEqual(got, alone)
                # the steps did run several sequences at once
                self.assertGreaterEqual(server.metrics()["qrt_decode_batch_max"], 2)
            finally:
                if server is not self.server:
                    server.stop()

    def assert_error(self, status, reply, want_status, pattern):
        self.assertEqual(status, want_status, reply)
        body = json.loads(reply) if isinstance(reply, str) else reply
        self.assertRegex(body["error"]["message"], pattern)
        self.assertIn("type", body["error"])

    def test_bad_requests(self):
        s = self.server
        cases = [
            ({"prompt": "x", "max_tokens": 0}, 400, r"'max_tokens' must be in \[1, 512\]"),
            ({"prompt": "x", "max_tokens": 10**9}, 400, "max_tokens"),
            ({"prompt": "x", "max_tokens": 2.5}, 400, "must be an integer"),
            ({"prompt": "x", "temperature": "hot"}, 400, "'temperature' must be a number"),
            ({"prompt": "x", "top_p": 3}, 400, r"'top_p' must be in \[0, 1\]"),
            ({"prompt": "x", "stream": "yes"}, 400, "'stream' must be true or false"),
            ({"prompt": "x", "stop": [1]}, 400, "'stop' must hold strings"),
            ({"prompt": "x", "stream_options": {"include_usage": True}}, 400,
             "goes with \"stream\": true"),
            ({"prompt": "x", "stream": True, "stream_options": {"include_usage": 1}}, 400,
             "must be true or false"),
            ({"prompt": "x", "n": 2}, 400, r"'n' must be in \[1, 1\]"),
            ({"prompt": 7}, 400, "'prompt' must be a string"),
            ({}, 400, "'prompt' is missing"),
            ({"prompt": "x", "model": "gpt-4"}, 404, "The model 'gpt-4' does not exist"),
            ({"prompt": "once " * 600}, 400, "more than the context of 512"),
            ({"prompt": "once " * 150, "max_tokens": 300}, 400, "do not fit the context"),
            ([1, 2], 400, "must be a JSON object"),
        ]
        for body, want, pattern in cases:
            with self.subTest(body=str(body)[:60]):
                status, reply = s.post("/v1/completions", body)
                self.assert_error(status, reply, want, pattern)
        chat = [({"messages": []}, "at least one message"),
                ({"messages": "hi"}, "must be an array"),
                ({"messages": [{"role": "robot", "content": "x"}]}, "must be system, user"),
                ({"messages": [{"role": "user"}]}, "content' is missing"),
                ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
                 "text only")]
        for body, pattern in chat:
            with self.subTest(body=str(body)[:60]):
                status, reply = s.post("/v1/chat/completions", body)
                self.assert_error(status, reply, 400, pattern)
        status, text = s.request("POST", "/v1/completions", raw='{"prompt": "x",')
        self.assert_error(status, text, 400, "not valid JSON")
        status, text = s.request("POST", "/v1/completions", raw=b'{"prompt": "\xff\xfe"}')
        self.assert_error(status, text, 400, "JSON|UTF-8")
        status, text = s.request("GET", "/v1/nothing")
        self.assert_error(status, text, 404, "no route")
        status, text = s.request("POST", "/v1/completions", raw="x" * (2 << 20))
        self.assert_error(status, text, 413, "larger than --max-body")
        self.assertEqual(s.request("GET", "/health")[0], 200)

    def test_api_key_queue_and_draining(self):
        server = Server(self.program, "--api-key", "sekret", "--parallel", "1", "--queue", "0")
        try:
            body = {"prompt": PROMPTS[0], "max_tokens": 5}
            status, reply = server.post("/v1/completions", body)
            self.assert_error(status, reply, 401, "didn't provide an API key")
            status, reply = server.post("/v1/completions", body,
                                        {"Authorization": "Bearer wrong"})
            self.assert_error(status, reply, 401, "Incorrect API key")
            self.assertEqual(server.request("GET", "/health")[0], 200)  # no key needed
            ok = {"Authorization": "Bearer sekret"}
            status, reply = server.post("/v1/completions", body, ok)
            self.assertEqual(status, 200, reply)
            # one slot, no queue: a second request while a stream holds it is 429
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            conn.request("POST", "/v1/completions", headers=ok, body=json.dumps(
                {"prompt": PROMPTS[0], "max_tokens": 500, "temperature": 0, "stream": True,
                 "stop": "never-there"}))
            res = conn.getresponse()
            self.assertEqual(res.status, 200)
            first = res.readline()
            self.assertTrue(first.startswith(b"data: "), first)
            # the stream's first event came, so its job holds the slot
            status, reply = server.post("/v1/completions", body, ok)
            self.assert_error(status, reply, 429, "busy|queue")
            self.assertEqual(reply["error"]["type"], "rate_limit_error")
            # SIGTERM while the stream is open: it still ends with [DONE]
            server.proc.send_signal(signal.SIGTERM)
            rest = res.read().decode()
            conn.close()
            self.assertTrue(rest.rstrip().endswith("data: [DONE]"), rest[-200:])
            self.assertEqual(server.proc.wait(timeout=30), 0)
        finally:
            server.stop()

    def test_dropped_connections_leak_nothing(self):
        s = self.server
        for _ in range(100):  # opened and dropped without a request
            socket.create_connection(("127.0.0.1", s.port)).close()
        for _ in range(5):  # a request cut off in its body
            c = socket.create_connection(("127.0.0.1", s.port))
            c.sendall(b"POST /v1/completions HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pro")
            c.close()
        for _ in range(3):  # a stream read once, then the client goes away
            c = socket.create_connection(("127.0.0.1", s.port))
            body = json.dumps({"prompt": PROMPTS[0], "max_tokens": 400, "stream": True,
                               "temperature": 0})
            c.sendall(("POST /v1/completions HTTP/1.1\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
            c.recv(100)
            c.close()
        # a stream nobody reads (the socket stays open, unread)
        idle = socket.create_connection(("127.0.0.1", s.port))
        body = json.dumps({"prompt": PROMPTS[1], "max_tokens": 100, "stream": True})
        idle.sendall(("POST /v1/completions HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body)).encode())
        reply = self.complete(prompt=PROMPTS[2], max_tokens=10, temperature=0)
        self.assertEqual(len(reply["choices"]), 1)
        idle.close()
        for _ in range(100):
            m = s.metrics()
            if m["qrt_sequences_active"] == 0 and m["qrt_queue_depth"] == 0:
                break
            time.sleep(0.05)
        self.assertEqual(m["qrt_sequences_active"], 0)
        self.assertEqual(m["qrt_queue_depth"], 0)
        self.assertEqual(m["qrt_sequences"], 4)
        self.assertGreater(m['qrt_http_requests_total{status="200"}'], 0)

    def test_qopt_serve(self):
        """qopt serve builds the program (or reuses it) and runs its server."""
        program = os.path.join(self.tmp.name, "served")
        argv = [QOPT, "serve", os.path.join(self.tmp.name, "w4.mlir"), "--program", program,
                "--port", "0", "--parallel", "2"]
        want = self.complete(prompt=PROMPTS[0], max_tokens=20, temperature=0)["choices"][0]
        for built in (True, False):
            server = Server(None, argv=argv)
            try:
                self.assertIn("building" if built else "serving it as built",
                              "".join(server.before))
                self.assertEqual(self.complete(server, prompt=PROMPTS[0], max_tokens=20,
                                               temperature=0)["choices"][0], want)
                self.assertEqual(server.metrics()["qrt_sequences"], 2)
                server.proc.send_signal(signal.SIGTERM)
                self.assertEqual(server.proc.wait(timeout=30), 0)
            finally:
                server.stop()
        # a temporary program is removed when the server ends
        p = subprocess.run([QOPT, "serve", os.path.join(self.tmp.name, "w4.mlir"), "--port",
                            str(self.server.port)], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot listen", p.stderr)
        self.assertFalse([d for d in os.listdir(tempfile.gettempdir())
                          if d.startswith("qopt-serve") and
                          os.path.exists(os.path.join(tempfile.gettempdir(), d, "w4"))])

    def test_program_options(self):
        for args, pattern in ((["--port", "70000"], r"--port must be in \[0, 65535\]"),
                              (["--parallel", "0"], r"--parallel must be in \[1, 256\]"),
                              (["--ctx", "100000"], "outside"),
                              (["-p", "hi"], "does not go with -p/-f")):
            with self.subTest(args=args):
                p = subprocess.run([self.program, "--serve", *args], capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(p.returncode, 1)
                self.assertRegex(p.stderr, pattern)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        p = subprocess.run([self.program, "--port", "1"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("--port goes with --serve", p.stderr)
        # a port already taken
        p = subprocess.run([self.program, "--serve", "--port", str(self.server.port)],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot listen on 127.0.0.1:%d" % self.server.port, p.stderr)
        # --ctx caps each sequence's context
        server = Server(self.program, "--ctx", "64")
        try:
            status, reply = server.post("/v1/completions", {"prompt": "once " * 70})
            self.assert_error(status, reply, 400, "more than the context of 64")
            reply = self.complete(server, prompt=PROMPTS[0], temperature=0)
            self.assertEqual(reply["choices"][0]["finish_reason"], "length")
            self.assertEqual(reply["usage"]["prompt_tokens"] +
                             reply["usage"]["completion_tokens"], 65)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()

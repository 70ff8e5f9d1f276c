#!/usr/bin/python3
"""Signaling relay benchmark: `tandem signal` vs a minimal Node.js `ws` relay (node_relay.mjs), same load, one run.

Runs inside its own network namespace (re-executes itself under `unshare --net`), so all traffic stays on a private
loopback. Each server is pinned to CPU 1 and bench/signaling's sig_load to CPU 0 (--no-pin to disable). For each
server, one sig_load run:
  * N clients connect and join rooms of 2-4 peers (tandem: a JWT per client; Node: ?room=), spread over several
    loopback source addresses; the time this takes;
  * memory per connection: (server VmRSS with the N clients joined and idle - VmRSS at start) / N;
  * a fixed-rate window (the same offered messages/s for both servers): delivered messages/s, p50/p99 relay
    latency, server CPU and CPU per message;
  * optional rate steps (--steps);
  * a closed-loop window (--window messages in flight): the relay's capacity in messages/s, with p50/p99;
  * in these windows every message travels alone (one write each); the same fixed-rate and closed-loop windows
    follow with negotiation bursts (--burst: an offer or answer followed at once by 2-6 candidates to the same
    peer, in one write, as trickle ICE produces them);
  * connections held: clients still connected at the end that answer a final application ping.
Server CPU is utime+stime of all its threads (/proc/PID/stat), sampled exactly over each window (sig_load prints
"@measure_start K" / "@measure_end K"); /proc/stat per CPU gives what other processes used on each core meanwhile,
and windows where they used more than --noisy-pct of a core are marked NOISY. Standard library only.
"""

import argparse
import glob
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NETNS_ENV = "TANDEM_SIG_BENCH_NETNS"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TOKEN_SECRET = "sig-bench-token-secret-0123456789"
NODE_RELAY = os.path.join(ROOT, "bench", "signaling", "node_relay.mjs")
SERVER_CPU, TOOL_CPU = 1, 0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# /proc sampling


def proc_cpu_seconds(pid):
    """utime + stime of every thread of `pid` (fields 14 and 15 of /proc/PID/stat), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_busy_seconds():
    """Busy time per CPU ({"cpu0": s, ...} and "all") and steal, from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu"):
                break
            name, *v = line.split()
            v = [int(x) for x in v]
            user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
            out["all" if name == "cpu" else name] = ((user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK)
    return out


def proc_wait_seconds(pid):
    """Time the process's main thread (its event loop) spent runnable but waiting for a CPU
    (/proc/PID/task/PID/schedstat, field 2): the direct measure of interference from other processes. Only the main
    thread: Node's helper threads share its pinned core and wait for it by design."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def proc_threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def raise_priority(nice):
    """In a child before exec: its own session, hence its own scheduler autogroup, at `nice`. With autogroups
    (kernel.sched_autogroup_enabled) a plain nice value only ranks a process within its session, so the group's
    nice is what competes with other sessions' builds."""
    os.setsid()
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass
    os.setpriority(os.PRIO_PROCESS, 0, nice)


# ---------------------------------------------------------------------------------------------------------------
# Servers


def tcp_probe(port, timeout=0.2):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class Server:
    def __init__(self, name, argv, port, workdir, cpu, ready_text):
        self.name, self.argv, self.port, self.workdir, self.cpu = name, argv, port, workdir, cpu
        self.ready_text = ready_text
        self.proc = None
        self.log_path = os.path.join(workdir, f"{name}.out")

    def start(self, timeout=20, nice=0):
        out = open(self.log_path, "w")
        cpu = self.cpu

        def pin():
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
            if nice:
                raise_priority(nice)

        self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=ROOT, preexec_fn=pin)
        out.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.tail())
            if self.ready_text in open(self.log_path, errors="replace").read() and tcp_probe(self.port):
                time.sleep(1.0)  # let start-up settle (and Node's JIT of the start-up path) before the RSS baseline
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.log_path}:\n" + self.tail())

    def tail(self, n=15):
        try:
            return "".join(open(self.log_path, errors="replace").readlines()[-n:])
        except OSError:
            return ""

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def tandem_server(binary, port, clients, workdir, cpu):
    # Limits raised to the load (defaults: 10,000 peers and rooms, 20 sockets per IP, 50 messages/s per peer);
    # --dev with a fixed --token-secret so that sig_load can mint the JWTs itself.
    argv = [binary, "signal", "--dev", "--http-listen", f"127.0.0.1:{port}", "--token-secret", TOKEN_SECRET,
            "--no-web", "--max-peers", str(clients + 1000), "--max-rooms", str(clients + 1000),
            "--max-connections-per-ip", str(clients + 1000), "--messages-per-second", "100000",
            "--log-level", "warning"]
    return Server("tandem", argv, port, workdir, cpu, "tandem signal ready")


def node_server(node, port, workdir, cpu):
    return Server("node", [node, NODE_RELAY, "--host", "127.0.0.1", "--port", str(port)], port, workdir, cpu,
                  "node relay ready")


# ---------------------------------------------------------------------------------------------------------------
# One load run


def window_noise(c0, c1, wall, server_cpu_s, tool_cpu_s):
    """CPU % of a core that other processes used during a window, on the server's core, the tool's and in all."""
    def busy(name):
        return c1[name][0] - c0[name][0]
    steal = 100 * (c1["all"][1] - c0["all"][1]) / wall
    if f"cpu{SERVER_CPU}" in c1 and f"cpu{TOOL_CPU}" in c1:
        on_server = max(0.0, 100 * (busy(f"cpu{SERVER_CPU}") - server_cpu_s) / wall)
        on_tool = max(0.0, 100 * (busy(f"cpu{TOOL_CPU}") - tool_cpu_s) / wall)
    else:
        on_server = on_tool = 0.0
    total = max(0.0, 100 * (busy("all") - server_cpu_s - tool_cpu_s) / wall)
    return {"other_cpu_pct": total, "other_on_server_core_pct": on_server, "other_on_tool_core_pct": on_tool,
            "steal_pct": steal}


def run_load(tool, args, server, cpu, timeout, on_ready=None, nice=0):
    """Runs sig_load; returns (json records, per-window samples)."""
    argv = [tool] + args + ["--server", f"127.0.0.1:{server.port}"]

    def pin():
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        if nice:
            raise_priority(nice)

    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1, preexec_fn=pin)
    records, starts, windows = [], {}, {}
    deadline = time.time() + timeout
    try:
        for line in proc.stdout:
            line = line.strip()
            if line.startswith("@measure_start"):
                starts[int(line.split()[1])] = (proc_cpu_seconds(server.pid), time.monotonic(), cpu_busy_seconds(),
                                                proc_wait_seconds(server.pid), proc_wait_seconds(proc.pid))
            elif line.startswith("@measure_end"):
                k = int(line.split()[1])
                s0, t0, c0, w0, tw0 = starts[k]
                windows[k] = (proc_cpu_seconds(server.pid) - s0, time.monotonic() - t0, c0, cpu_busy_seconds(),
                              proc_status_kib(server.pid, "VmRSS"), proc_wait_seconds(server.pid) - w0,
                              proc_wait_seconds(proc.pid) - tw0)
            elif line == "@ready":
                if on_ready:
                    on_ready()
            elif line.startswith("{"):
                records.append(json.loads(line))
            if time.time() > deadline:
                raise TimeoutError(f"sig_load exceeded {timeout}s")
        proc.wait(timeout=max(1, deadline - time.time()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"sig_load failed ({proc.returncode}): {' '.join(argv)}")
    if server.proc.poll() is not None:
        raise RuntimeError(f"{server.name} died during the run; see {server.log_path}:\n" + server.tail())
    for r in records:
        if r.get("type") == "step" and r["step"] in windows:
            server_cpu_s, wall, c0, c1, rss, wait, tool_wait = windows[r["step"]]
            r["server_cpu_s"], r["window_wall_s"], r["rss_kib"] = server_cpu_s, wall, rss
            r["server_wait_pct"], r["tool_wait_pct"] = 100 * wait / wall, 100 * tool_wait / wall
            r.update(window_noise(c0, c1, wall, server_cpu_s, r["tool_cpu"] * r["duration_s"]))
    return records


def bench_server(server, tool, opts, tool_cpu):
    res = {"server": server.name}
    rss = {"start_kib": proc_status_kib(server.pid, "VmRSS"), "threads_start": proc_threads(server.pid)}
    cpu_idle = {}

    def on_ready():
        # The clients are joined and idle (sig_load holds still for --hold s): the memory they cost.
        time.sleep(opts.hold / 2)
        t0, c0 = time.monotonic(), proc_cpu_seconds(server.pid)
        time.sleep(opts.hold / 4)
        cpu_idle["pct"] = 100 * (proc_cpu_seconds(server.pid) - c0) / (time.monotonic() - t0)
        rss["joined_kib"] = proc_status_kib(server.pid, "VmRSS")
        rss["threads_joined"] = proc_threads(server.pid)

    # Windows: the fixed rate and the capacity with every message alone, any extra rates, then (unless
    # --burst 0) the same two with negotiation bursts.
    steps = [str(opts.rate)] + [str(r) for r in opts.steps] + ["0"]
    bursts = opts.burst not in ("0", "0-0")
    if bursts:
        steps += [f"{opts.rate}@{opts.burst}", f"0@{opts.burst}"]
    args = ["--clients", str(opts.clients), "--room-size", opts.room_size, "--hold", str(opts.hold),
            "--rate", ",".join(steps), "--window", str(opts.window), "--duration",
            str(opts.duration), "--warmup", str(opts.warmup), "--mix", opts.mix, "--offer-bytes", opts.offer_bytes,
            "--answer-bytes", opts.answer_bytes, "--candidate-bytes", opts.candidate_bytes, "--seed", str(opts.seed)]
    if opts.sources:
        args += ["--sources", opts.sources]
    if server.name == "tandem":
        args += ["--token-secret", TOKEN_SECRET]
    if opts.quiet:
        args.append("--quiet")
    log(f"[{server.name}] {opts.clients} clients; windows (msg/s, 0 = closed loop, @ = bursts): {', '.join(steps)}")
    timeout = 120 + opts.hold + len(steps) * (opts.duration + opts.warmup + 2)
    recs = run_load(tool, args, server, tool_cpu, timeout, on_ready=on_ready, nice=opts.nice)
    setup = next(r for r in recs if r["type"] == "setup")
    summary = next(r for r in recs if r["type"] == "summary")
    windows = [r for r in recs if r["type"] == "step"]
    res["setup"] = setup
    res["summary"] = summary
    rss["peak_kib"] = proc_status_kib(server.pid, "VmHWM")
    rss["per_connection_bytes"] = (rss.get("joined_kib", 0) - rss["start_kib"]) * 1024 / max(1, setup["joined"])
    rss["idle_cpu_pct"] = cpu_idle.get("pct")
    res["rss"] = rss
    for w in windows:
        w["server_cpu_pct"] = 100 * w["server_cpu_s"] / w["window_wall_s"]
        w["cpu_us_per_message"] = w["server_cpu_s"] / max(1, w["received_in_window"]) * 1e6
        # What one fully busy server core would relay at this window's cost per message (comparable even when
        # sig_load, not the server, is the limit).
        w["per_core_per_s"] = 1e6 / w["cpu_us_per_message"] if w["cpu_us_per_message"] > 0 else 0
        # Noisy: the server or sig_load waited for a CPU (other processes had it), or the hypervisor took time.
        w["noisy"] = (w["server_wait_pct"] > opts.noisy_pct or w["tool_wait_pct"] > opts.noisy_pct
                      or w["steal_pct"] > 5)
        # The tool, not the server, was the limit: it sent < 97% of the schedule or had no CPU left.
        w["tool_limited"] = (w["rate"] > 0 and w["offered_per_s"] < 0.97 * w["rate"]) or w["tool_cpu"] > 0.9
    n_single = 2 + len(opts.steps)
    res["fixed"] = windows[0]
    res["steps"] = windows[1:n_single - 1]
    res["capacity"] = windows[n_single - 1]
    if bursts:
        res["fixed_burst"], res["capacity_burst"] = windows[n_single], windows[n_single + 1]
    return res


# ---------------------------------------------------------------------------------------------------------------
# Report


def fmt(v, spec):
    if isinstance(v, str):
        return v
    return "-" if v is None else format(v, spec)


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def report(results, opts):
    lines = []
    names = list(dict.fromkeys(r["server"] for r in results))
    ms = 1e-3
    n = opts.clients
    # (label, value of one round, format, which way is better, how rounds combine). Noise from other processes can
    # only lower a capacity, so capacities combine by max; everything else by median.
    rows = [
        (f"connections held (of {n:,})", lambda r: r["summary"]["held"], ",.0f", "higher", min),
        ("connect + join of all clients (s)", lambda r: r["setup"]["setup_s"], ".2f", "lower", median),
        ("RSS at start (MiB)", lambda r: r["rss"]["start_kib"] / 1024, ".1f", "lower", median),
        (f"RSS with {n:,} joined, idle (MiB)", lambda r: r["rss"].get("joined_kib", 0) / 1024, ".1f", "lower",
         median),
        ("memory per connection (KiB)", lambda r: r["rss"]["per_connection_bytes"] / 1024, ".2f", "lower", median),
        ("  server CPU % with all idle", lambda r: r["rss"]["idle_cpu_pct"], ".1f", None, median),
    ]

    def window_rows(key, title, capacity):
        if key not in results[0]:
            return []
        get = lambda name: (lambda r: r[key][name])  # noqa: E731
        head = (f"{title}: msg/s", get("delivered_per_s"), ",.0f", "higher", max) if capacity else \
            (f"{title}: delivered msg/s", get("delivered_per_s"), ",.0f", "higher", median)
        out = [head,
               ("  latency p50 (ms)", lambda r: r[key]["latency_p50_us"] * ms, ".2f", "lower", median),
               ("  latency p99 (ms)", lambda r: r[key]["latency_p99_us"] * ms, ".2f", "lower", median),
               ("  server CPU %", get("server_cpu_pct"), ".1f", None if capacity else "lower", median),
               ("  server CPU µs per message", get("cpu_us_per_message"), ".2f", "lower", median),
               ("  msg/s per busy server core", get("per_core_per_s"), ",.0f", "higher", median)]
        if capacity:
            out.append(("  sig_load CPU %", lambda r: 100 * r[key]["tool_cpu"], ".0f", None, median))
        return out

    rows += window_rows("fixed", f"fixed {opts.rate:,}/s, alone", False)
    rows += window_rows("capacity", f"capacity ({opts.window} in flight), alone", True)
    rows += window_rows("fixed_burst", f"fixed {opts.rate:,}/s, bursts {opts.burst}", False)
    rows += window_rows("capacity_burst", f"capacity, bursts {opts.burst}", True)
    rows.append(("RSS peak (MiB)", lambda r: r["rss"]["peak_kib"] / 1024, ".1f", "lower", median))
    w = 44
    pair = "tandem" in names and "node" in names
    head = f"{'metric':<{w}}" + "".join(f"{x:>14}" for x in names) + (f"{'tandem/node':>14}" if pair else "")
    lines += [head, "-" * len(head)]
    by = {x: [r for r in results if r["server"] == x] for x in names}
    for label, get, spec, better, agg in rows:
        vals = {x: agg([get(r) for r in by[x]]) for x in names}
        line = f"{label:<{w}}" + "".join(f"{fmt(vals[x], spec):>14}" for x in names)
        if pair and better and vals["tandem"] is not None and vals["node"]:
            line += f"{vals['tandem'] / vals['node']:>13.2f}x"
        lines.append(line)
    if opts.repeat > 1:
        lines.append(f"({opts.repeat} rounds, servers alternating: capacities are the best round, the rest the "
                     "median)")
    lines.append("")
    lines.append("windows (offered → delivered msg/s, lost, p50/p99/p99.9 ms, server CPU %, µs/msg, sig_load CPU %, "
                 "CPU % of other processes in all / on the server's core, % of the window the server / sig_load "
                 "waited for a CPU)")
    for r in results:
        s = r["setup"]
        lines.append(f"{r['server']} (round {r['round']}): {s['joined']:,}/{s['clients']:,} joined {s['rooms']:,} "
                     f"rooms in {s['setup_s']:.2f} s, held {r['summary']['held']:,}, closed after joining "
                     f"{r['summary']['closed_after_join']}, error frames {r['summary']['error_frames'] or 'none'}")
        for w_ in [r["fixed"]] + r["steps"] + [r["capacity"]] + [r[k] for k in ("fixed_burst", "capacity_burst")
                                                                   if k in r]:
            name = f"rate {w_['rate']:,}" if w_["rate"] else f"closed {w_['window']}"
            if w_.get("burst", "0") != "0":
                name += f" @{w_['burst']}"
            flag = ("  TOOL-LIMITED" if w_["tool_limited"] else "") + ("  NOISY" if w_["noisy"] else "")
            lines.append(f"  {name:>18}: {w_['offered_per_s']:>9,.0f} → {w_['delivered_per_s']:>9,.0f} "
                         f"lost {w_['lost']:<5} {w_['latency_p50_us'] * ms:7.2f}/{w_['latency_p99_us'] * ms:7.2f}/"
                         f"{w_['latency_p999_us'] * ms:7.2f} {w_['server_cpu_pct']:6.1f}% "
                         f"{w_['cpu_us_per_message']:6.1f} {100 * w_['tool_cpu']:4.0f}%  other "
                         f"{w_['other_cpu_pct']:.0f}/{w_['other_on_server_core_pct']:.0f}%  waited "
                         f"{w_['server_wait_pct']:.0f}/{w_['tool_wait_pct']:.0f}%"
                         f"{' steal %.0f%%' % w_['steal_pct'] if w_['steal_pct'] >= 1 else ''}{flag}")
    return "\n".join(lines)


def machine_info():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu_model": model, "loadavg": open("/proc/loadavg").read().split()[:3]}


# ---------------------------------------------------------------------------------------------------------------


def optimized_build(binary):
    """True when `binary` sits in a CMake build dir configured for an optimized build without sanitizers/fuzzing."""
    d = os.path.dirname(binary)
    while d.startswith(ROOT) and d != ROOT:
        cache = os.path.join(d, "CMakeCache.txt")
        if os.path.exists(cache):
            text = open(cache, errors="replace").read()
            return ("CMAKE_BUILD_TYPE:STRING=Release" in text or "CMAKE_BUILD_TYPE:STRING=RelWithDebInfo" in text) \
                and "TANDEM_SANITIZE:BOOL=ON" not in text and "TANDEM_FUZZ:BOOL=ON" not in text
        d = os.path.dirname(d)
    return True  # not in a CMake tree: trust the caller


def find_binary(explicit, candidates):
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for pattern in candidates:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            if os.access(path, os.X_OK) and optimized_build(path):
                return path
    return None


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default="tandem,node", help="comma list of tandem,node (default both)")
    p.add_argument("--tandem", help="tandem binary (default build/release/apps/tandem/tandem, else any build dir)")
    p.add_argument("--sig-load", help="sig_load binary (default build/bench-signaling/bench/signaling/sig_load)")
    p.add_argument("--node", default=shutil.which("node") or "node", help="node executable")
    p.add_argument("--clients", type=int, default=10000, help="WebSocket clients (default 10000)")
    p.add_argument("--room-size", default="2-4", help="peers per room, MIN-MAX (default 2-4)")
    p.add_argument("--sources", default="127.0.0.2-127.0.0.17",
                   help="loopback source addresses for the clients ('' = kernel's choice)")
    p.add_argument("--rate", type=int, default=5000,
                   help="messages/s in total for the fixed-rate windows (one both servers sustain; default 5000)")
    p.add_argument("--steps", default="", help="more fixed rates to step through after it (comma list)")
    p.add_argument("--window", type=int, default=1000, help="messages in flight in the capacity window")
    p.add_argument("--duration", type=float, default=5, help="measurement window (s)")
    p.add_argument("--warmup", type=float, default=2, help="traffic before each window, not counted (s)")
    p.add_argument("--hold", type=float, default=4, help="idle time with everyone joined (memory sample) (s)")
    p.add_argument("--mix", default="1,1,8", help="relative frequency of offers, answers, candidates")
    p.add_argument("--burst", default="2-6",
                   help="the burst windows: each offer/answer followed at once, in the same write, by MIN-MAX "
                        "candidates to the same peer (trickle ICE); 0: no burst windows (default 2-6)")
    p.add_argument("--offer-bytes", default="4000-6000")
    p.add_argument("--answer-bytes", default="150-250")
    p.add_argument("--candidate-bytes", default="150-250")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1, help="rounds (servers alternate)")
    p.add_argument("--noisy-pct", type=float, default=10,
                   help="mark windows where the server or sig_load waited for a CPU more than this %% of the time")
    p.add_argument("--nice", type=int, default=0,
                   help="run the server and sig_load each in its own session (scheduler autogroup) at this nice "
                        "value, e.g. -10 on a machine shared with builds (default 0: unchanged)")
    p.add_argument("--no-pin", action="store_true", help="do not pin the server to CPU 1 and sig_load to CPU 0")
    p.add_argument("--json-out", help="write all results as JSON here")
    p.add_argument("--quiet", action="store_true", help="hide sig_load's own tables")
    opts = p.parse_args()
    opts.steps = [int(x) for x in opts.steps.split(",") if x]
    return opts


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n), max(hard, n)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    opts = parse_args()
    if os.environ.get(NETNS_ENV) != "1":
        if os.geteuid() != 0:
            sys.exit("run.py needs root for `unshare --net` (a private loopback namespace)")
        env = dict(os.environ, **{NETNS_ENV: "1"})
        # A private loopback: wide ephemeral port range, deep accept queues (these sysctls are per namespace).
        inner = ("ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range='10000 60999' "
                 "net.core.somaxconn=16384 net.ipv4.tcp_max_syn_backlog=16384 && exec \"$@\"")
        os.execvpe("unshare", ["unshare", "--net", "sh", "-c", inner, "sh", sys.executable,
                               os.path.abspath(__file__)] + sys.argv[1:], env)

    limit = raise_fd_limit(4 * opts.clients + 1024)
    if limit < opts.clients + 256:
        sys.exit(f"open-file limit {limit} is too low for {opts.clients} clients")
    tool = find_binary(os.path.abspath(opts.sig_load) if opts.sig_load else None,
                       ["build/bench-signaling/bench/signaling/sig_load", "build/release/bench/signaling/sig_load",
                        "build/*/bench/signaling/sig_load"])
    if not tool:
        sys.exit("sig_load not found: build it (bench/signaling/run.sh does) or pass --sig-load")
    servers = [s for s in opts.servers.split(",") if s]
    tandem_bin = None
    if "tandem" in servers:
        tandem_bin = find_binary(os.path.abspath(opts.tandem) if opts.tandem else None,
                                 ["build/release/apps/tandem/tandem", "build/bench-signaling/apps/tandem/tandem",
                                  "build/*/apps/tandem/tandem"])
        if not tandem_bin:
            log("note: no tandem binary found (build/release/apps/tandem/tandem); skipping tandem")
            servers.remove("tandem")
    if "node" in servers:
        if not shutil.which(opts.node):
            log("note: node not found; skipping the Node relay")
            servers.remove("node")
        elif not os.path.isdir(os.path.join(ROOT, "node_modules", "ws")):
            log("note: node_modules/ws missing (run `npm ci`); skipping the Node relay")
            servers.remove("node")
    if not servers:
        sys.exit("no server to measure")

    pin = not opts.no_pin and (os.cpu_count() or 1) >= 2
    server_cpu, tool_cpu = (SERVER_CPU, TOOL_CPU) if pin else (None, None)
    info = machine_info()
    node_version = subprocess.run([opts.node, "--version"], capture_output=True, text=True).stdout.strip() \
        if "node" in servers else None
    log(f"machine: {info['nproc']} cores, {info['cpu_model']}, loadavg {' '.join(info['loadavg'])}; sig_load {tool}"
        + (f"; tandem {tandem_bin}" if tandem_bin else "") + (f"; node {node_version}" if node_version else ""))

    results = []
    workdir = tempfile.mkdtemp(prefix="sig-bench-")
    current = [None]

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for r in range(opts.repeat):
            for i, name in enumerate(servers):
                port = 8080 + i
                if name == "tandem":
                    srv = tandem_server(tandem_bin, port, opts.clients, workdir, server_cpu)
                else:
                    srv = node_server(opts.node, port, workdir, server_cpu)
                current[0] = srv
                log(f"[{name}] starting: {' '.join(srv.argv)}")
                srv.start(nice=opts.nice)
                try:
                    res = bench_server(srv, tool, opts, tool_cpu)
                    res["round"] = r + 1
                    results.append(res)
                finally:
                    srv.stop()
                    current[0] = None
                time.sleep(1)  # the last clients' sockets close before the next server starts
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if current[0] is not None:
            current[0].stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    traffic = (f"offer:answer:candidate {opts.mix.replace(',', ':')} each message alone"
               + ("" if opts.burst in ("0", "0-0") else f", or offer/answer + {opts.burst} candidates per write"))
    print(f"Signaling relay: {opts.clients:,} WebSocket clients in rooms of {opts.room_size} peers; {traffic} "
          f"({opts.offer_bytes} / {opts.answer_bytes} / {opts.candidate_bytes} B); server on CPU {SERVER_CPU}, "
          f"sig_load on CPU {TOOL_CPU}"
          + ("" if pin else " (not pinned)") + f"; {info['nproc']} cores ({info['cpu_model']})"
          + (f"; node {node_version}" if node_version else ""))
    print(report(results, opts))
    if opts.json_out:
        with open(opts.json_out, "w") as f:
            json.dump({"machine": info, "node": node_version, "options": vars(opts), "results": results}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

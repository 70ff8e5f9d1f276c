#!/usr/bin/python3
"""TURN relay and STUN Binding benchmark: coturn vs `tandem turn`, same loads, same thread count, one run.

Runs inside its own network namespace (re-executes itself under `unshare --net`), so all traffic stays on a private
loopback. For each server it measures, with bench/turn's turn_load as the load generator:
  * RSS per allocation (VmRSS before and after N allocations),
  * server CPU-seconds per million relayed packets at a fixed moderate rate with no loss,
  * the loss onset: the highest offered rate (both directions together) with < 1% loss, stepping the rate up,
  * STUN Binding: answered requests/s in a closed loop and server CPU per request.
Server CPU is utime+stime of all its threads (/proc/PID/stat), sampled exactly over each measurement window
(turn_load prints "@measure_start K" / "@measure_end K"). Standard library only.
"""

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NETNS_ENV = "TANDEM_TURN_BENCH_NETNS"
CLK_TCK = os.sysconf("SC_CLK_TCK")
USER, PASSWORD, REALM = "u", "p", "test"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# /proc sampling


def proc_cpu_seconds(pid):
    """utime + stime of every thread of `pid` (fields 14 and 15 of /proc/PID/stat), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds():
    """CPU time spent by everything on the machine (all CPUs, /proc/stat), and the hypervisor's steal time."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


# ---------------------------------------------------------------------------------------------------------------
# Servers


def stun_probe(port, timeout=0.2):
    """True when a STUN Binding request to 127.0.0.1:port is answered (RFC 8489 §6)."""
    tid = os.urandom(12)
    req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + tid
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(req, ("127.0.0.1", port))
            data, _ = s.recvfrom(2048)
        except OSError:
            return False
    return len(data) >= 20 and data[8:20] == tid and data[0:2] == b"\x01\x01"


class Server:
    def __init__(self, name, argv, port, workdir, cpu, ready_text=None):
        self.name, self.argv, self.port, self.workdir, self.cpu = name, argv, port, workdir, cpu
        self.ready_text = ready_text
        self.proc = None
        self.log_path = os.path.join(workdir, f"{name}.out")

    def start(self, timeout=15):
        out = open(self.log_path, "w")
        cpu = self.cpu

        def pin():
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir, preexec_fn=pin)
        out.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.tail())
            text_ok = self.ready_text is None or self.ready_text in open(self.log_path, errors="replace").read()
            if text_ok and stun_probe(self.port):
                time.sleep(0.3)  # let start-up settle before the RSS baseline
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
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def coturn_server(port, threads, workdir, cpu):
    argv = ["turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
            "--allow-loopback-peers", "--lt-cred-mech", f"--user={USER}:{PASSWORD}", f"--realm={REALM}",
            "--fingerprint", "--no-tls", "--no-dtls", "--no-tcp-relay", "--no-cli", "--cli-password=x",
            "--min-port=49152", "--max-port=65535", f"--relay-threads={threads}",
            f"--userdb={workdir}/turndb", f"--pidfile={workdir}/turn.pid",
            f"--log-file={workdir}/coturn.log", "--simple-log", "--no-stdout-log"]
    return Server("coturn", argv, port, workdir, cpu)


def tandem_server(binary, port, threads, workdir, cpu):
    argv = [binary, "turn", "--listening-ip", "127.0.0.1", "--listening-port", str(port), "--relay-ip",
            "127.0.0.1", "--realm", REALM, "--user", f"{USER}:{PASSWORD}", "--allow-loopback-peers", "--threads",
            str(threads), "--min-port", "49152", "--max-port", "65535", "--no-tls"]
    return Server("tandem", argv, port, workdir, cpu, ready_text="tandem turn ready")


# ---------------------------------------------------------------------------------------------------------------
# Load runs


def run_load(tool, args, server, cpu, timeout, on_ready=None):
    """Runs turn_load; returns (json records, per-step server CPU seconds over the measurement windows)."""
    argv = [tool] + args + ["--server", f"127.0.0.1:{server.port}"]

    def pin():
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1, preexec_fn=pin)
    records, starts, cpu_by_step = [], {}, {}
    deadline = time.time() + timeout
    try:
        for line in proc.stdout:
            line = line.strip()
            if line.startswith("@measure_start"):
                starts[int(line.split()[1])] = (proc_cpu_seconds(server.pid), time.monotonic(),
                                                machine_busy_seconds())
            elif line.startswith("@measure_end"):
                k = int(line.split()[1])
                c0, t0, (b0, s0) = starts[k]
                b1, s1 = machine_busy_seconds()
                cpu_by_step[k] = (proc_cpu_seconds(server.pid) - c0, time.monotonic() - t0, b1 - b0, s1 - s0)
            elif line == "@ready":
                if on_ready:
                    on_ready()
            elif line.startswith("{"):
                records.append(json.loads(line))
            if time.time() > deadline:
                raise TimeoutError(f"turn_load {' '.join(args)} exceeded {timeout}s")
        proc.wait(timeout=max(1, deadline - time.time()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"turn_load failed ({proc.returncode}): {' '.join(argv)}")
    if server.proc.poll() is not None:
        raise RuntimeError(f"{server.name} died during the run; see {server.log_path}:\n" + server.tail())
    for r in records:
        if r.get("type") == "step" and r["step"] in cpu_by_step:
            r["server_cpu_s"], r["window_wall_s"], busy, steal = cpu_by_step[r["step"]]
            # CPU used by anything but the server and the tool during the window (other processes on a shared
            # machine), and time the hypervisor took away: both make a window noisy.
            r["other_cpu_pct"] = max(0.0, 100 * (busy - r["server_cpu_s"] - r["tool_cpu"] * r["duration_s"])
                                     / r["window_wall_s"])
            r["steal_pct"] = 100 * steal / r["window_wall_s"]
    return records


def steps_of(records):
    return [r for r in records if r.get("type") == "step"]


def tool_limited(step, target):
    """The generator, not the server, fell short: it sent < 97% of the target or ran out of CPU."""
    return step["offered_pps"] < 0.97 * target or step["tool_cpu"] > 0.9


def bench_server(server, tool, opts, tool_cpu):
    res = {"server": server.name, "threads": opts.threads}
    common = ["--quiet"] if opts.quiet else []
    # Allocations after the first start authenticated with the REALM/NONCE the first one got: all clients share
    # 127.0.0.1 here, and a server may rate-limit unauthenticated requests per source IP (tandem does), which
    # would otherwise make set-up, not relaying, the subject of the benchmark. Measured on its own below.
    relay = ["relay", "--reuse-nonce"]

    # 1. RSS per allocation: VmRSS at idle, then with N allocations (each with a bound channel) set up.
    rss = {"before_kib": proc_rss_kib(server.pid)}

    def sample_rss():
        time.sleep(0.5)
        rss["after_kib"] = proc_rss_kib(server.pid)
        rss["threads"] = proc_threads(server.pid)

    n = opts.rss_allocations
    log(f"[{server.name}] {n} allocations: RSS and relay with many allocations")
    recs = run_load(tool, relay + ["--allocations", str(n), "--peers", "64", "--rate", str(opts.many_rate // 2),
                           "--duration", "2", "--warmup", "0.5", "--hold", "1", "--size", str(opts.size)] + common,
                    server, tool_cpu, timeout=90, on_ready=sample_rss)
    setup = next(r for r in recs if r["type"] == "setup")
    rss["allocations"] = setup["ready"]
    rss["setup_s"] = setup["setup_s"]
    rss["per_allocation_bytes"] = ((rss.get("after_kib", 0) - rss["before_kib"]) * 1024 / max(1, setup["ready"]))
    res["rss"] = rss
    many = steps_of(recs)[0]
    res["many_allocations"] = {"allocations": setup["ready"], "rate_total": opts.many_rate,
                               "loss_pct": many["loss_pct"], "delivered_pps": many["delivered_pps"],
                               "server_cpu_s": many.get("server_cpu_s")}
    time.sleep(0.5)  # deallocations done; let the server release ports

    # 2. CPU per relayed packet at a fixed moderate rate.
    log(f"[{server.name}] fixed rate {opts.moderate_rate} pps total, {opts.allocations} allocations")
    recs = run_load(tool, relay + ["--allocations", str(opts.allocations), "--rate", str(opts.moderate_rate // 2),
                           "--duration", str(opts.duration), "--warmup", "1", "--size", str(opts.size)] + common,
                    server, tool_cpu, timeout=60)
    st = steps_of(recs)[0]
    res["moderate"] = {
        "rate_total": opts.moderate_rate, "delivered_pps": st["delivered_pps"], "loss_pct": st["loss_pct"],
        "server_cpu_s": st["server_cpu_s"], "server_cpu_pct": 100 * st["server_cpu_s"] / st["window_wall_s"],
        "cpu_s_per_mpkt": st["server_cpu_s"] / max(1, st["delivered"]) * 1e6,
        "latency_p50_us": st["c2p"]["latency_p50_us"], "latency_p99_us": st["c2p"]["latency_p99_us"],
        "tool_cpu": st["tool_cpu"], "tool_limited": tool_limited(st, opts.moderate_rate),
        "other_cpu_pct": st["other_cpu_pct"], "steal_pct": st["steal_pct"]}

    # 3. Loss onset: step the offered rate up.
    log(f"[{server.name}] loss onset: {','.join(str(r) for r in opts.steps)} pps total")
    rates = ",".join(str(r // 2) for r in opts.steps)
    recs = run_load(tool, relay + ["--allocations", str(opts.allocations), "--rate", rates, "--duration",
                           str(opts.step_duration), "--warmup", "1", "--size", str(opts.size), "--stop-loss",
                           "20"] + common, server, tool_cpu, timeout=30 + len(opts.steps) * (opts.step_duration + 3))
    steps = []
    onset = None
    for st in steps_of(recs):
        total = 2 * st["rate"]
        row = {"rate_total": total, "offered_pps": st["offered_pps"], "delivered_pps": st["delivered_pps"],
               "loss_pct": st["loss_pct"], "server_cpu_s": st["server_cpu_s"],
               "server_cpu_pct": 100 * st["server_cpu_s"] / st["window_wall_s"],
               "cpu_s_per_mpkt": st["server_cpu_s"] / max(1, st["delivered"]) * 1e6,
               "latency_p99_us": max(st["c2p"]["latency_p99_us"], st["p2c"]["latency_p99_us"]),
               "tool_cpu": st["tool_cpu"], "drops_tool": st["drops_tool"], "drops_server": st["drops_other"],
               "tool_limited": tool_limited(st, total), "other_cpu_pct": st["other_cpu_pct"],
               "steal_pct": st["steal_pct"]}
        steps.append(row)
        # Loss onset: the highest rate actually offered that lost < 1%. External noise (other processes on the
        # machine) can only add loss at some lower step, never remove it at a higher one, so the maximum is robust.
        if st["loss_pct"] < 1.0 and (onset is None or st["offered_pps"] > onset["offered_pps"]):
            onset = row
    res["steps"] = steps
    res["loss_onset_pps"] = onset["offered_pps"] if onset else 0
    # A lower bound only: the tool was the limit at that step, or even the top step lost nothing.
    res["loss_onset_lower_bound"] = bool(onset) and (onset["tool_limited"] or onset is steps[-1])
    # What one fully busy server core would relay at the cost per packet of that step: comparable even when the
    # tool, not the server, ends the stepping.
    res["pps_per_core_at_onset"] = (onset["delivered_pps"] * 100 / onset["server_cpu_pct"]
                                    if onset and onset["server_cpu_pct"] > 0 else 0)

    # 4. Set-up the way independent clients do it: each allocation's first Allocate unauthenticated (401 first).
    n = opts.fresh_allocations
    log(f"[{server.name}] {n} allocations, each with its own unauthenticated first Allocate")
    recs = run_load(tool, ["relay", "--allocations", str(n), "--rate", "1000", "--duration", "0.2", "--warmup", "0",
                           "--setup-timeout", "20"] + common, server, tool_cpu, timeout=60)
    setup = next(r for r in recs if r["type"] == "setup")
    res["fresh_setup"] = {"allocations": n, "ready": setup["ready"], "setup_s": setup["setup_s"],
                          "retransmits": setup["retransmits"]}
    time.sleep(0.5)

    # 5. STUN Binding, closed loop (the maximum answered rate).
    log(f"[{server.name}] STUN Binding, closed loop")
    recs = run_load(tool, ["binding", "--rate", "0", "--sockets", "8", "--window", str(opts.binding_window),
                           "--duration", str(opts.duration), "--warmup", "1"] + common, server, tool_cpu, timeout=60)
    st = steps_of(recs)[0]
    res["binding"] = {"answered_per_s": st["delivered_pps"], "loss_pct": st["loss_pct"],
                      "server_cpu_s": st["server_cpu_s"],
                      "server_cpu_pct": 100 * st["server_cpu_s"] / st["window_wall_s"],
                      "cpu_us_per_request": st["server_cpu_s"] / max(1, st["delivered"]) * 1e6,
                      "latency_p50_us": st["binding"]["latency_p50_us"], "tool_cpu": st["tool_cpu"],
                      "other_cpu_pct": st["other_cpu_pct"], "steal_pct": st["steal_pct"]}
    return res


# ---------------------------------------------------------------------------------------------------------------
# Report


def fmt(v, spec):
    if isinstance(v, str):
        return v
    return "-" if v is None else format(v, spec)


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def report(results, opts):
    """The comparison table (medians over --repeat rounds), then each run's loss-onset steps."""
    lines = []
    names = list(dict.fromkeys(r["server"] for r in results))
    # (label, value of one round, format, which way is better, how rounds combine). Other processes on a shared
    # machine can only lower a maximum rate, so rates combine by max; costs combine by median.
    onset_round = {}
    for r in results:
        best = onset_round.get(r["server"])
        if best is None or r["loss_onset_pps"] > best["loss_onset_pps"]:
            onset_round[r["server"]] = r
    rows = [
        ("relayed pps at fixed rate", lambda r: r["moderate"]["delivered_pps"], ",.0f", "higher", median),
        ("  loss % at fixed rate", lambda r: r["moderate"]["loss_pct"], ".3f", None, median),
        ("server CPU % at fixed rate", lambda r: r["moderate"]["server_cpu_pct"], ".1f", "lower", median),
        ("CPU-s per million relayed pkts", lambda r: r["moderate"]["cpu_s_per_mpkt"], ".2f", "lower", median),
        ("loss onset: max pps total <1% loss", lambda r: r["loss_onset_pps"], ",.0f", "higher", max),
        ("  (≥: tool-limited lower bound)",
         lambda r: "≥" if onset_round[r["server"]]["loss_onset_lower_bound"] else "", "", None, None),
        ("  pps per server core at that rate", lambda r: onset_round[r["server"]]["pps_per_core_at_onset"], ",.0f",
         "higher", None),
        ("RSS per allocation (bytes)", lambda r: r["rss"]["per_allocation_bytes"], ",.0f", "lower", median),
        ("RSS idle (MiB)", lambda r: r["rss"]["before_kib"] / 1024, ".1f", "lower", median),
        (f"RSS with {opts.rss_allocations} allocations (MiB)", lambda r: r["rss"].get("after_kib", 0) / 1024,
         ".1f", "lower", median),
        (f"{opts.rss_allocations}-allocation setup, nonce reused (s)", lambda r: r["rss"]["setup_s"], ".2f",
         "lower", median),
        (f"{opts.fresh_allocations}-allocation setup, 401 each (s)", lambda r: r["fresh_setup"]["setup_s"], ".2f",
         "lower", median),
        ("STUN Binding answered/s", lambda r: r["binding"]["answered_per_s"], ",.0f", "higher", max),
        ("  server CPU % during Binding", lambda r: r["binding"]["server_cpu_pct"], ".1f", None, median),
        ("CPU µs per Binding request", lambda r: r["binding"]["cpu_us_per_request"], ".2f", "lower", median),
    ]
    w = 44
    head = f"{'metric':<{w}}" + "".join(f"{n:>14}" for n in names)
    if "coturn" in names and "tandem" in names:
        head += f"{'tandem/coturn':>15}"
    lines += [head, "-" * len(head)]
    by = {n: [r for r in results if r["server"] == n] for n in names}

    def value(n, get, agg):
        vals = [get(r) for r in by[n]]
        return vals[0] if agg is None else agg(vals)

    for label, get, spec, better, agg in rows:
        vals = {n: value(n, get, agg) for n in names}
        line = f"{label:<{w}}" + "".join(f"{fmt(vals[n], spec):>14}" for n in names)
        if "coturn" in vals and "tandem" in vals and better:
            c, t = vals["coturn"], vals["tandem"]
            line += f"{(t / c if c else float('nan')):>14.2f}x"
        lines.append(line)
    if opts.repeat > 1:
        lines.append(f"({opts.repeat} rounds, servers alternating: rates are the best round, costs the median)")
    lines.append("")
    for r in results:
        lines.append(f"{r['server']} (round {r['round']}): loss-onset steps (pps total: offered → delivered, loss %, server CPU %, "
                     f"CPU-s/Mpkt, p99 µs, tool CPU %, kernel drops tool/server, CPU % of other processes)")
        for s in r["steps"]:
            flag = "  TOOL-LIMITED" if s["tool_limited"] else ""
            if s["other_cpu_pct"] > 30:
                flag += "  NOISY"
            lines.append(f"  {s['rate_total']:>9,.0f}: {s['offered_pps']:>9,.0f} → {s['delivered_pps']:>9,.0f} "
                         f"{s['loss_pct']:7.2f}% {s['server_cpu_pct']:6.1f}% {s['cpu_s_per_mpkt']:6.2f} "
                         f"{s['latency_p99_us']:>7} {100 * s['tool_cpu']:5.0f}% "
                         f"{s['drops_tool']}/{s['drops_server']}  other {s['other_cpu_pct']:.0f}%"
                         f"{' steal %.0f%%' % s['steal_pct'] if s['steal_pct'] >= 1 else ''}{flag}")
        m = r["many_allocations"]
        lines.append(f"  {m['allocations']} allocations at {m['rate_total']:,} pps total: loss {m['loss_pct']:.3f}%")
        b, m = r["binding"], r["moderate"]
        lines.append(f"  fixed rate: tool CPU {100 * m['tool_cpu']:.0f}%, other processes {m['other_cpu_pct']:.0f}%, "
                     f"p50/p99 c2p latency {m['latency_p50_us']}/{m['latency_p99_us']} µs")
        lines.append(f"  binding: tool CPU {100 * b['tool_cpu']:.0f}%, other processes {b['other_cpu_pct']:.0f}%, "
                     f"loss {b['loss_pct']:.3f}%, p50 RTT {b['latency_p50_us']} µs")
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
    p.add_argument("--servers", default="coturn,tandem", help="comma list of coturn,tandem (default both)")
    p.add_argument("--threads", type=int, default=1, help="server threads (coturn --relay-threads, tandem --threads)")
    p.add_argument("--tandem", help="tandem binary (default build/release/apps/tandem/tandem, else any build dir)")
    p.add_argument("--turn-load", help="turn_load binary (default build/bench-turn/bench/turn/turn_load, else any)")
    p.add_argument("--allocations", type=int, default=100, help="allocations for the rate measurements")
    p.add_argument("--rss-allocations", type=int, default=2000)
    p.add_argument("--fresh-allocations", type=int, default=200,
                   help="allocations set up with one unauthenticated Allocate each (set-up time)")
    p.add_argument("--many-rate", type=int, default=20000, help="pps total relayed over the RSS allocations")
    p.add_argument("--moderate-rate", type=int, default=40000, help="pps total (both directions) for CPU/packet")
    p.add_argument("--steps", default="20000,40000,80000,120000,160000,200000,250000,300000",
                   help="pps total (both directions) for the loss onset")
    p.add_argument("--size", type=int, default=200, help="payload bytes per packet")
    p.add_argument("--duration", type=float, default=5, help="measurement window of the fixed-rate and Binding runs")
    p.add_argument("--step-duration", type=float, default=3, help="measurement window of each loss-onset step")
    p.add_argument("--binding-window", type=int, default=32, help="outstanding Binding requests per socket")
    p.add_argument("--repeat", type=int, default=1, help="rounds (servers alternate); the table shows medians")
    p.add_argument("--no-pin", action="store_true", help="do not pin the server to CPU 1 and turn_load to CPU 0")
    p.add_argument("--json-out", help="write all results as JSON here")
    p.add_argument("--quiet", action="store_true", help="hide turn_load's per-step tables")
    opts = p.parse_args()
    opts.steps = [int(x) for x in opts.steps.split(",") if x]
    return opts


def main():
    opts = parse_args()
    if os.environ.get(NETNS_ENV) != "1":
        if os.geteuid() != 0:
            sys.exit("run.py needs root for `unshare --net` (a private loopback namespace)")
        env = dict(os.environ, **{NETNS_ENV: "1"})
        # Ephemeral ports (the tool's sockets) below the servers' relay range 49152-65535.
        inner = ("ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range='20000 45000' && exec \"$@\"")
        os.execvpe("unshare", ["unshare", "--net", "sh", "-c", inner, "sh", sys.executable,
                               os.path.abspath(__file__)] + sys.argv[1:], env)

    if opts.tandem:
        opts.tandem = os.path.abspath(opts.tandem)
    if opts.turn_load:
        opts.turn_load = os.path.abspath(opts.turn_load)
    tool = find_binary(opts.turn_load, ["build/bench-turn/bench/turn/turn_load", "build/*/bench/turn/turn_load"])
    if not tool:
        sys.exit("turn_load not found: build it (bench/turn/run.sh does) or pass --turn-load")
    servers = [s for s in opts.servers.split(",") if s]
    tandem_bin = None
    if "tandem" in servers:
        tandem_bin = find_binary(opts.tandem, ["build/release/apps/tandem/tandem",
                                                  "build/bench-turn/apps/tandem/tandem", "build/*/apps/tandem/tandem"])
        if not tandem_bin:
            log("note: no tandem binary found (build/release/apps/tandem/tandem); measuring coturn only")
            servers.remove("tandem")
    if "coturn" in servers and not shutil.which("turnserver"):
        log("note: turnserver not installed (apt-get install coturn); skipping coturn")
        servers.remove("coturn")
    if not servers:
        sys.exit("no server to measure")

    pin = not opts.no_pin and (os.cpu_count() or 1) >= 2
    server_cpu, tool_cpu = (1, 0) if pin else (None, None)
    info = machine_info()
    log(f"machine: {info['nproc']} cores, {info['cpu_model']}, loadavg {' '.join(info['loadavg'])}; "
        f"turn_load {tool}" + (f"; tandem {tandem_bin}" if tandem_bin else ""))
    if float(info["loadavg"][0]) > 0.7:
        log("warning: the machine is busy (loadavg > 0.7): figures will be noisy")

    results = []
    workdir = tempfile.mkdtemp(prefix="turn-bench-")
    current = [None]

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for i, name in [(i, n) for _ in range(opts.repeat) for i, n in enumerate(servers)]:
            port = 3478 + 2 * i
            if name == "coturn":
                srv = coturn_server(port, opts.threads, workdir, server_cpu)
            else:
                srv = tandem_server(tandem_bin, port, opts.threads, workdir, server_cpu)
            current[0] = srv
            log(f"[{name}] starting: {' '.join(srv.argv)}")
            srv.start()
            try:
                res = bench_server(srv, tool, opts, tool_cpu)
                res["round"] = sum(1 for r in results if r["server"] == name) + 1
                results.append(res)
            finally:
                srv.stop()
                current[0] = None
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if current[0] is not None:
            current[0].stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(f"TURN relay and STUN Binding: {opts.threads} server thread(s), payload {opts.size} B, "
          f"{opts.allocations} allocations, {info['nproc']} cores ({info['cpu_model']})")
    print(report(results, opts))
    if opts.json_out:
        with open(opts.json_out, "w") as f:
            json.dump({"machine": info, "options": vars(opts), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

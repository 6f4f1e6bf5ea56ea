#!/usr/bin/env python3
"""Writes tests/data/run-small/: a small, realistic run folder (schema 1)
for the report, compare and check tests. Deterministic (fixed seed); the
output is committed, so this script only needs to run when the fixture is
changed on purpose. Three models, fp32 and five schemes at several bit
widths, two placements, seven timed repetitions per cell, one crashed cell,
hardware counters requested but absent (as on a VM without a PMU) and
qbench's own SDE work counters present, per-image outcomes for paired tests,
and per-layer sensitivity for one model."""
import os, random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run-small")
rng = random.Random(20261125)
N_IMAGES = 10000

def fnv1a64(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h

def q(v):
    s = str(v)
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s

def g(v, fmt="%.9g"):
    return "" if v is None else fmt % v

def median(xs):
    s = sorted(xs); n = len(s); h = (n - 1) * 0.5; lo = int(h)
    return s[lo] + (h - lo) * (s[lo + 1] - s[lo]) if lo + 1 < n else s[lo]

# model: fp32 accuracy, parameters, fp32 batch-1 latency on one core (ms), MACs per image
MODELS = {
    "mlp":    (88.62, 235146, 0.041, 235008),
    "lenet":  (90.47, 61706, 0.118, 416520),
    "resnet": (92.31, 272474, 1.92, 40550400),
}
# scheme, wbits, abits, granularity, calib, correction, accuracy drop (pp) per model,
# latency factor vs fp32 (one core), bits per weight stored
CONFIGS = [
    ("fp32", 32, 32, "tensor", "minmax", "none", (0, 0, 0), 1.0, 32),
    ("uniform-sym", 8, 8, "channel", "minmax", "none", (0.06, 0.11, 0.09), 0.42, 8),
    ("uniform-asym", 8, 8, "tensor", "percentile:99.99", "none", (0.14, 0.19, 0.21), 0.45, 8),
    ("uniform-sym", 4, 8, "channel", "mse", "bias", (0.71, 0.93, 1.64), 0.37, 4),
    ("uniform-sym", 2, 8, "channel", "mse", "bias", (6.85, 9.12, 14.3), 0.36, 2),
    ("pow2", 4, 32, "tensor", "minmax", "none", (1.38, 1.86, 2.95), 0.83, 4),
    ("ternary", 2, 32, "tensor", "minmax", "none", (3.95, 5.41, 8.74), 0.58, 2),
    ("binary", 1, 32, "tensor", "minmax", "none", (11.2, 14.9, 23.6), 0.31, 1),
]
PLACEMENTS = [("core", 1, "0", 1.0), ("cores:2", 2, "0-1", 0.58)]
BACKEND = {"fp32": "openblas", "uniform-sym": "avx512-vnni", "uniform-asym": "avx512-vnni",
           "pow2": "ref", "ternary": "avx512-vnni", "binary": "avx512-vnni"}
EVENTS = ["PAPI_TOT_CYC", "PAPI_TOT_INS", "sde:::qbench::macs", "sde:::qbench::weight_bytes"]
REPS = 7

os.makedirs(OUT, exist_ok=True)
spec = ("models = mlp lenet resnet\nschemes = fp32 uniform-sym uniform-asym pow2 ternary binary\n"
        "placements = core cores:2\nscenario = latency\nreps = 7\nevents = " + " ".join(EVENTS) + "\n")
meta = [
    ("schema_version", "1"), ("qbench_version", "0.1.0"), ("git_commit", "3e2b22beebc4"),
    ("date", "2026-11-25T19:35:32Z"), ("host", "bench-vm-01"),
    ("cpu_model", "AMD EPYC 9R45 (Zen 5)"), ("cpu_flags", "avx2 fma avx512f avx512bw avx512vl avx512_vnni avx512_bf16"),
    ("compiler", "gcc 12.2.0"), ("cflags", "-O2"), ("kernel", "Linux 6.1.0-27-amd64"),
    ("hwloc_version", "2.9.0"), ("topology", "1 package, 1 numa, 2 cores, 2 pus"),
    ("papi_version", "7.0.0.0"),
    ("papi_components", "sde:enabled;perf_event:disabled (libpfm4 no default PMU found)"),
    ("events", ";".join(EVENTS)), ("blas", "OpenBLAS 0.3.21 (Haswell)"), ("backend", "avx512-vnni"),
    ("spec_hash", fnv1a64(spec)), ("spec", spec), ("shard", ""),
]
with open(os.path.join(OUT, "meta.csv"), "w") as f:
    f.write("key,value\n")
    for k, v in meta:
        f.write(q(k) + "," + q(v) + "\n")

cols = ["cell_id", "model", "scheme", "granularity", "calib", "correction", "policy", "wbits",
        "abits", "backend", "placement", "threads", "cpuset", "scenario", "batch", "status",
        "status_detail", "accuracy", "fp32_accuracy", "drop_pp", "drop_ci_low", "drop_ci_high",
        "agreement", "kl", "size_bytes", "compression", "latency_ms_median", "latency_ms_mad",
        "latency_ms_ci_low", "latency_ms_ci_high", "reps", "throughput_ips", "speedup",
        "prep_seconds", "prep_peak_mb", "counter_status"]
for e in EVENTS:  # each event's total, then its per-inference value
    cols += ["ctr:" + e, "ctr:" + e + "/inf"]
cols += ["ipc", "flop_per_inf", "gflop_s", "byte_per_inf", "gbyte_s"]
rows, samples, outcomes, layers = [], [], [], []

def outcome_bits(acc, base=None, drop=0.0):
    if base is None:
        bits = [1 if rng.random() < acc / 100 else 0 for _ in range(N_IMAGES)]
    else:  # flip a few right answers to wrong and fewer wrong to right: net drop
        bits = list(base)
        right = [i for i, b in enumerate(bits) if b]
        wrong = [i for i, b in enumerate(bits) if not b]
        net = round(drop / 100 * N_IMAGES)
        fixed = min(len(wrong), max(0, int(net * 0.25)))
        for i in rng.sample(right, net + fixed):
            bits[i] = 0
        for i in rng.sample(wrong, fixed):
            bits[i] = 1
    return bits

def to_hex(bits):
    out = bytearray((len(bits) + 7) // 8)
    for i, b in enumerate(bits):
        if b:
            out[i // 8] |= 1 << (i % 8)
    return out.hex()

for mi, (model, (fp32_acc, params, fp32_ms, macs)) in enumerate(MODELS.items()):
    fp32_bits = outcome_bits(fp32_acc)
    fp32_acc = 100 * sum(fp32_bits) / N_IMAGES
    fp32_lat = {}
    for ci, (scheme, wb, ab, gran, calib, corr, drops, lat_factor, bpw) in enumerate(CONFIGS):
        if model == "resnet" and scheme in ("pow2", "uniform-asym"):
            continue  # not every config on the biggest model: rows differ per model
        bits = fp32_bits if scheme == "fp32" else outcome_bits(fp32_acc, fp32_bits, drops[mi])
        acc = 100 * sum(bits) / N_IMAGES
        drop = fp32_acc - acc
        b = sum(1 for x, y in zip(fp32_bits, bits) if x and not y)
        c = sum(1 for x, y in zip(fp32_bits, bits) if not x and y)
        se = ((b + c) / N_IMAGES - (drop / 100) ** 2) ** 0.5 / N_IMAGES ** 0.5 * 100
        agree = 100 - 100 * (b + c) / N_IMAGES * 0.9 if scheme != "fp32" else 100.0
        kl = 0.0 if scheme == "fp32" else 0.0009 * drop + 0.0004 * (8 / max(wb, 1))
        size = params * 4 if scheme == "fp32" else params * bpw // 8 + (params // 64) * 4
        for (pl, threads, cpuset, pfac) in PLACEMENTS:
            crashed = model == "lenet" and scheme == "ternary" and pl == "cores:2"
            # the canonical string of docs/csv-schema.md "Cell ids"
            fp = scheme == "fp32"
            ident = ("model=%s|scheme=%s|granularity=%s|calib=%s|correction=%s|policy=uniform|"
                     "wbits=%d|abits=%d|backend=auto|placement=%s|scenario=latency|batch=1" %
                     (model, scheme, "" if fp else gran, "" if fp else calib, corr, wb, ab, pl))
            cid = fnv1a64(ident)
            row = dict(cell_id=cid, model=model, scheme=scheme, granularity="" if fp else gran,
                       calib="" if fp else calib,
                       correction=corr, policy="uniform", wbits=wb, abits=ab,
                       backend=BACKEND[scheme], placement=pl, threads=threads, cpuset=cpuset,
                       scenario="latency", batch=1)
            if crashed:
                row.update(status="crashed", status_detail="SIGSEGV, address not mapped (signal 11)",
                           counter_status="")
                rows.append(row)
                continue
            true_ms = fp32_ms * lat_factor * pfac * (1.04 if threads == 2 and model == "mlp" else 1.0)
            reps = [true_ms * (1 + abs(rng.gauss(0, 0.025)) + 0.01 * rng.random()) for _ in range(REPS)]
            reps = [float("%.6g" % r) for r in reps]
            med = median(reps)
            mad = median([abs(r - med) for r in reps])
            srt = sorted(reps)
            if scheme == "fp32":
                fp32_lat[pl] = med
            sp = fp32_lat[pl] / med
            row.update(status="ok", status_detail="", accuracy=acc, fp32_accuracy=fp32_acc,
                       drop_pp=drop, drop_ci_low=drop - 1.96 * se, drop_ci_high=drop + 1.96 * se,
                       agreement=agree, kl=kl, size_bytes=size, compression=params * 4 / size,
                       latency_ms_median=med, latency_ms_mad=mad, latency_ms_ci_low=srt[0],
                       latency_ms_ci_high=srt[-1], reps=REPS, throughput_ips=1000 / med,
                       speedup=sp, prep_seconds=0.0 if scheme == "fp32" else 0.05 + 0.4 * (corr == "bias"),
                       prep_peak_mb=0.0 if scheme == "fp32" else params * 4 / 1e6 * 1.5,
                       counter_status="PAPI_TOT_CYC: Component containing event is disabled "
                                      "(perf_event: Error libpfm4 no default PMU found); "
                                      "PAPI_TOT_INS: Component containing event is disabled "
                                      "(perf_event: Error libpfm4 no default PMU found)")
            wbytes = size
            row["ctr:sde:::qbench::macs"] = macs * REPS
            row["ctr:sde:::qbench::weight_bytes"] = wbytes * REPS
            row["ctr:sde:::qbench::macs/inf"] = float(macs)
            row["ctr:sde:::qbench::weight_bytes/inf"] = float(wbytes)
            row["flop_per_inf"] = 2.0 * macs
            row["gflop_s"] = 2.0 * macs * (1000 / med) / 1e9
            row["byte_per_inf"] = float(wbytes)
            row["gbyte_s"] = wbytes * (1000 / med) / 1e9
            rows.append(row)
            for i, r in enumerate(reps):
                samples.append((cid, i, r))
            if pl == "core":
                outcomes.append((cid, N_IMAGES, to_hex(bits)))
            if model == "lenet" and pl == "core" and scheme == "uniform-sym":
                for li, (lname, kind, share) in enumerate([("conv1", "conv", 0.34), ("conv2", "conv", 0.22),
                                                           ("fc1", "gemm", 0.18), ("fc2", "gemm", 0.14),
                                                           ("fc3", "gemm", 0.12)]):
                    sens = drop * share * (1 + 0.1 * rng.random())
                    wsq = 6.02 * wb + 1.76 - 4.5 - li * 0.3
                    layers.append((cid, model, li, lname, kind, wb, ab, wsq, 6.02 * ab - 2.1, sens))

def fmt(v):
    if isinstance(v, float):
        return "%.9g" % v
    return str(v)

with open(os.path.join(OUT, "results.csv"), "w") as f:
    f.write(",".join(q(c) for c in cols) + "\n")
    for r in rows:
        f.write(",".join(q(fmt(r[c])) if c in r else "" for c in cols) + "\n")
with open(os.path.join(OUT, "samples.csv"), "w") as f:
    f.write("cell_id,rep,latency_ms\n")
    for cid, i, v in samples:
        f.write("%s,%d,%s\n" % (cid, i, fmt(v)))
with open(os.path.join(OUT, "outcomes.csv"), "w") as f:
    f.write("cell_id,n,correct_hex\n")
    for cid, n, h in outcomes:
        f.write("%s,%d,%s\n" % (cid, n, h))
with open(os.path.join(OUT, "layers.csv"), "w") as f:
    f.write("cell_id,model,layer_index,layer,kind,wbits,abits,weight_sqnr_db,act_sqnr_db,sensitivity_pp\n")
    for l in layers:
        f.write(",".join(fmt(x) for x in l) + "\n")
with open(os.path.join(OUT, "topology.xml"), "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE topology SYSTEM "hwloc2.dtd">\n'
            '<topology version="2.0">\n  <object type="Machine" os_index="0" cpuset="0x00000003">\n'
            '    <object type="Package" os_index="0" cpuset="0x00000003">\n'
            '      <object type="Core" os_index="0" cpuset="0x00000001"><object type="PU" os_index="0" cpuset="0x00000001"/></object>\n'
            '      <object type="Core" os_index="1" cpuset="0x00000002"><object type="PU" os_index="1" cpuset="0x00000002"/></object>\n'
            '    </object>\n  </object>\n</topology>\n')
print("wrote", OUT, len(rows), "cells", len(samples), "samples")

/**
 * `tsbpf demo`: the main job on bundled material, for a first look after `npm install`:
 * assemble and disassemble a bundled program, run it on the reference interpreter with a short
 * trace, show a typed fault, run a clang XDP object, verify/run/JIT the BPF-exceptions example,
 * and run the whole bpf_conformance suite.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { conformanceEngine, runConformanceDir } from "../conformance/runner.ts";
import { BpfFault } from "../errors.ts";
import { Interpreter, runRawProgram } from "../interp/index.ts";
import { assemble } from "../isa/asm.ts";
import { disasmProgram } from "../isa/disasm.ts";
import { parse } from "./args.ts";
import { BUNDLED_CONFORMANCE_DIR } from "./conformance.ts";
import { exceptionsDemo, imageHead } from "./demo-exceptions.ts";
import { instantiate, OBJECT_ENGINES, readObjectSpec } from "./objects.ts";
import { type Io, paint, writeJson } from "./output.ts";
import { formatTrace, recorder, type TraceStep } from "./trace.ts";

export const DEMO_USAGE = `usage: tsbpf demo [--json]

Assembles, disassembles and runs the bundled examples/primes.s on the reference interpreter,
runs the bundled XDP object examples/firewall.o like bpftool prog run, verifies, runs and
JIT-compiles (arm64, as Linux 6.12.117) the BPF-exceptions example examples/exceptions.o, then
runs the bundled bpf_conformance suite.
`;

const EXAMPLE = fileURLToPath(new URL("../../examples/primes.s", import.meta.url));
const FIREWALL = fileURLToPath(new URL("../../examples/firewall.o", import.meta.url));

/** An Ethernet + IPv4 + TCP frame to `port` (54 bytes). */
function tcpFrame(port: number): Uint8Array {
  const hex = `020000000002020000000001080045000028000000004006${"0".repeat(4)}0a0000020a000001c000${port
    .toString(16)
    .padStart(4, "0")}00000000000000005000000000000000`;
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
}

/**
 * The bundled XDP firewall as `bpftool prog loadall` + `map update` + `prog run` would drive it:
 * port 22 blocked, one SSH packet, then an HTTP packet with repeat 4. On this project's x86-64
 * Linux 6.18 machine the kernel returns 1 (XDP_DROP) and 2 (XDP_PASS), and leaves the verdict
 * counters at {1: 1, 2: 4}.
 */
function firewallDemo() {
  const obj = instantiate(readObjectSpec(FIREWALL), OBJECT_ENGINES.interp);
  obj.setMapEntry("blocked", "1600", "01");
  const ssh = obj.testRun("firewall", { dataIn: tcpFrame(22) });
  const http = obj.testRun("firewall", { dataIn: tcpFrame(80), repeat: 4 });
  const counters = obj.dumpMap("verdicts").map((e) => Number(BigInt(`0x${e.value.match(/../g)?.reverse().join("")}`)));
  return { ssh: ssh.retval, http: http.retval, counters, program: obj.programs[0].spec };
}

/** Runs `tsbpf demo`; returns the exit code. */
export function demoCommand(argv: string[], io: Io): number {
  const { values } = parse(argv, {
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    io.out(DEMO_USAGE);
    return 0;
  }
  const h = (t: string) => paint(io, "bold", t);
  const program = assemble(readFileSync(EXAMPLE, "utf8"), "examples/primes.s");
  const listing = disasmProgram(program);

  // n = 100 as the u32 input: 25 primes below 100.
  const mem = new Uint8Array([100, 0, 0, 0]);
  const t0 = process.hrtime.bigint();
  const result = runRawProgram(program, mem);
  const ns = Number(process.hrtime.bigint() - t0);

  // The first instructions of the run, as `tsbpf run --trace` shows them.
  const steps: TraceStep[] = [];
  const rec = recorder(program, steps);
  const traced = new Interpreter(program, { budget: 12, trace: rec.hook });
  const region = traced.space.map("mem", mem.slice(), { name: "mem" });
  let fault = "";
  try {
    traced.run({ args: [region.address(0), 4n] });
  } catch (e) {
    if (!(e instanceof BpfFault)) throw e;
    fault = e.message;
  }

  const fw = firewallDemo();
  const exc = exceptionsDemo();
  const suite = runConformanceDir(BUNDLED_CONFORMANCE_DIR, conformanceEngine("interp"));

  if (values.json) {
    writeJson(io, {
      example: "examples/primes.s",
      insns: listing,
      run: { input: "n = 100", r0: result.r0, insns: result.insnCount, ns },
      fault,
      trace: steps,
      firewall: { ssh: fw.ssh, http: fw.http, verdicts: fw.counters },
      exceptions: {
        functions: exc.functions,
        retval_thrown: exc.thrown,
        retval_returned: exc.returned,
        jit: exc.jit.map((f) => ({ name: f.name, address: f.address, bytes: f.bytes.length })),
      },
      conformance: { engine: suite.engine, passed: suite.passed, failed: suite.failed },
    });
    return suite.failed === 0 ? 0 : 1;
  }
  io.out(`${h("tsbpf demo")}: the BPF ISA and the reference interpreter\n\n`);
  io.out(`${h("1. examples/primes.s")}, assembled and disassembled (llvm-objdump syntax):\n`);
  for (const l of listing) io.out(`${String(l.pc).padStart(8)}:\t${l.text}\n`);
  io.out(`\n${h("2. run")} with r1 -> u32 n = 100 (primes below 100):\n`);
  io.out(`   r0 = ${result.r0}   (${result.insnCount} BPF instructions in ${(ns / 1e3).toFixed(0)} µs)\n`);
  io.out(`\n${h("3. trace")} of the same run with a 12-instruction budget:\n`);
  io.out(`${formatTrace(io, steps)}   ${paint(io, "yellow", `BpfFault: ${fault}`)}\n`);
  io.out(`\n${h("4. examples/firewall.o")}, an XDP program from clang, loaded as libbpf does:\n`);
  io.out(
    `   ${fw.program.name} (${fw.program.section}), ${fw.program.insns.length} insns, functions ${fw.program.functions.map((f) => f.name).join(", ")}\n`,
  );
  io.out(
    `   blocked[22] = 1; TCP to port 22 -> retval ${fw.ssh} (XDP_DROP); to port 80, repeat 4 -> retval ${fw.http} (XDP_PASS)\n`,
  );
  io.out(
    `   verdicts map: ${fw.counters.map((n, i) => `${i}: ${n}`).join(", ")}   (the real kernel: 1 and 2, {1: 1, 2: 4})\n`,
  );
  io.out(`\n${h("5. examples/exceptions.o")}, BPF exceptions (bpf_throw from a static subprogram):\n`);
  io.out(
    `   verified: functions ${exc.functions.map((f) => `${f.name}${f.callback ? " (exception callback)" : ""}`).join(", ")}\n`,
  );
  io.out(
    `   64-byte packet -> thrower throws 7 -> my_cb(7) -> retval ${exc.thrown}; 20-byte packet -> retval ${exc.returned}   (the real kernel: 107 and 1027)\n`,
  );
  io.out(`   arm64 JIT (Linux 6.12.117): ${exc.jit.map((f) => `${f.name} ${f.bytes.length} bytes`).join(", ")}\n`);
  io.out("   the exception boundary's prologue saves all of x19-x28:\n");
  for (const l of imageHead(exc.jit[0], 13)) io.out(`     ${l}\n`);
  const cb = exc.jit.find((f) => f.exceptionCallback);
  if (cb !== undefined) {
    io.out("   the callback adopts the boundary's frame (x2 = its frame pointer):\n");
    for (const l of imageHead(cb, 5)) io.out(`     ${l}\n`);
  }
  io.out(`\n${h("6. bpf_conformance")} (${suite.results.length} programs, engine ${suite.engine}):\n`);
  io.out(`   ${paint(io, suite.failed === 0 ? "green" : "red", `${suite.passed} passed, ${suite.failed} failed`)}\n`);
  io.out(
    `\nNext: tsbpf run --asm examples/primes.s --mem "64 00 00 00" --trace | tsbpf objdump examples/firewall.o | tsbpf verify examples/exceptions.o | tsbpf jit examples/exceptions.o | tsbpf conformance\n`,
  );
  return suite.failed === 0 ? 0 : 1;
}

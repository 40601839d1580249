/**
 * CO-RE relocation of an object's programs against the target kernel's BTF, at the point of
 * loading where libbpf does it: libbpf's `bpf_object__relocate_core` (src/libbpf.c), which runs
 * first in `bpf_object__relocate`, on every function's own instructions (`.text` subprograms
 * included), before any subprogram is appended to a main program — so every appended copy carries
 * the patched instructions.
 *
 * For each `.BTF.ext` core_relo section, in file order, and each record in order (one candidate
 * cache for the whole object, as libbpf's `cand_cache`, so earlier relocations prune the
 * candidates of later ones exactly as there; the parser merges entries of one section name,
 * which clang never writes twice, and libbpf would visit apart):
 *   - the ELF section is the first one of that name (`elf_sec_by_name`); the function is the one
 *     whose slots hold the instruction (`find_prog_by_sec_insn`). No function: skipped (libbpf:
 *     "belonging to eliminated weak subprogram"); no section of that name, likewise;
 *   - a function that will not be loaded (a `?` section) is skipped, as libbpf skips programs
 *     whose autoload is off — its ProgramSpec keeps the compiler's values;
 *   - the relocation is resolved and the instruction patched by src/btf/core.ts
 *     (`bpf_core_resolve_relo`, `bpf_core_patch_insn`); an unresolvable one poisons the
 *     instruction (`call 0xbad2310`, both slots of an LD_IMM64), which the verifier forgives only
 *     in dead code. What libbpf refuses — a bad access string, an ambiguity, an instruction of
 *     the wrong form or holding an unexpected value — is a LoadError naming the section and slot,
 *     with libbpf's `prog 'NAME': relo #N: failed to relocate` wording and the BtfError as cause.
 *
 * An object with CO-RE relocations needs a target BTF, as libbpf needs one
 * (`obj_needs_vmlinux_btf`: any core_relo record, whether or not its program is loaded). libbpf
 * then reads `/sys/kernel/btf/vmlinux` and fails the whole load when there is none ("failed to
 * find valid kernel BTF", -ESRCH); tsbpf reads no kernel files here, so a missing `targetBtf` is
 * that failure.
 */
import type { Btf } from "../btf/btf.ts";
import { CoreRelocator, patchCoreInsn } from "../btf/core.ts";
import type { BtfExt } from "../btf/ext.ts";
import { BtfError, LoadError } from "../errors.ts";
import { findProgram } from "./collect.ts";
import type { ObjectState } from "./internal.ts";

/** What libbpf's `btf__load_vmlinux_btf` says before it fails with -ESRCH. */
const NO_KERNEL_BTF = "failed to find valid kernel BTF";

/** Number of CO-RE relocation records in `.BTF.ext` (libbpf's `core_relo_info.len != 0` test). */
export function coreReloCount(ext: BtfExt | null): number {
  let n = 0;
  if (ext !== null) for (const sec of ext.sections.values()) n += sec.coreRelos.length;
  return n;
}

/**
 * Applies the object's CO-RE relocations to its functions' instructions in place (see the module
 * comment). `target` is the kernel's BTF; undefined is an error when there is anything to do.
 */
export function relocateCore(state: ObjectState, ext: BtfExt | null, target: Btf | undefined): void {
  const count = coreReloCount(ext);
  if (ext === null || count === 0) return;
  if (target === undefined) {
    const sections = [...ext.sections.values()].filter((s) => s.coreRelos.length > 0).map((s) => `'${s.name}'`);
    throw new LoadError(
      `${count} CO-RE relocation${count === 1 ? "" : "s"} (in ${sections.join(", ")}) ` +
        `need${count === 1 ? "s" : ""} the target kernel's BTF, ` +
        `and none was given: ${NO_KERNEL_BTF} (libbpf: "Error loading vmlinux BTF: -ESRCH"); pass targetBtf`,
    );
  }
  const local = state.btf;
  if (local === null) throw new LoadError("CO-RE relocations without .BTF", { section: ".BTF.ext" });
  const relocator = new CoreRelocator(local, target);
  for (const sec of ext.sections.values()) {
    if (sec.coreRelos.length === 0) continue;
    if (sec.name === "") {
      throw new LoadError("CO-RE relocations of a section without a name", { section: ".BTF.ext" });
    }
    const elfSec = state.elf.sectionByName(sec.name);
    if (elfSec === undefined) continue; // libbpf's sec_idxs entry stays 0: no program is found
    sec.coreRelos.forEach((rec, i) => {
      const prog = findProgram(state, elfSec.index, rec.insn);
      if (prog === undefined) return; // an eliminated __weak subprogram's leftovers
      if (prog.secName.startsWith("?")) return; // autoload off: libbpf leaves it alone
      const relo = { ...rec, insn: rec.insn - prog.insnOff };
      try {
        patchCoreInsn(prog.insns, relocator.resolve(relo));
      } catch (cause) {
        if (!(cause instanceof BtfError)) throw cause;
        throw new LoadError(
          `program '${prog.name}': relo #${i}: failed to relocate insn #${relo.insn}: ${cause.message}`,
          { section: sec.name, insn: rec.insn },
          { cause },
        );
      }
    });
  }
}

/**
 * BTF from an ELF object: the `.BTF` and `.BTF.ext` sections, parsed in the file's byte order
 * (libbpf's `btf__parse_elf` / `bpf_object__init_btf`). Both are optional in an object; a
 * `.BTF.ext` without `.BTF` is an error, since its strings and types live in `.BTF`.
 */

import type { ElfFile } from "../elf/index.ts";
import { BtfError } from "../errors.ts";
import type { Btf } from "./btf.ts";
import { type BtfExt, parseBtfExt } from "./ext.ts";
import { parseBtf } from "./parse.ts";

/** The BTF of an object. */
export interface ElfBtf {
  readonly btf: Btf | undefined;
  readonly ext: BtfExt | undefined;
}

/** Parses an object's `.BTF` and `.BTF.ext` (either may be absent). */
export function btfFromElf(elf: ElfFile): ElfBtf {
  const btfSec = elf.sectionByName(".BTF");
  const extSec = elf.sectionByName(".BTF.ext");
  const btf = btfSec ? parseBtf(btfSec.data(), { bigEndian: elf.bigEndian, section: ".BTF" }) : undefined;
  if (extSec && btf === undefined) throw new BtfError(".BTF.ext without .BTF", { section: ".BTF.ext" });
  const ext = extSec && btf ? parseBtfExt(extSec.data(), btf, { bigEndian: elf.bigEndian }) : undefined;
  return { btf, ext };
}

#!/bin/sh
# Guest side of test/fixtures/jit/record-arm64.ts: runs inside the arm64 oracle
# (/work/shared/oracle run.sh; busybox sh, cwd=/job, bpftool 7.5 + jitinfo on PATH).
# The job dir holds obj/*.o, pkt/*.bin and plan.txt (written by record-arm64.ts):
#   packet NAME                      a packet: /job/pkt/NAME.bin
#   object OBJ                       load /job/obj/OBJ.o with `bpftool prog loadall`
#   setup OBJ MAP KEYHEX PROG        after the loads: MAP[KEY] = PROG (prog_array)
#   prog OBJ PROG run|norun          run PROG on every packet (if it loaded), then jitinfo
# Output ($OUT): load/OBJ.out (bpftool's stdout+stderr), load/OBJ.rc, setup.log,
#   run/OBJ.PROG.PKT.json (bpftool -j prog run), jit/OBJ.PROG.* (jitinfo: .info .xlated.bin
#   .jited.bin .f<i>.bin), jit/hidden_cb.ADDR.* (hidden default exception callbacks, read
#   from /proc/kcore), bpf_kallsyms.txt (the [bpf] symbols in kernel list order),
#   kallsyms.txt (all of /proc/kallsyms; the host keeps the part it needs), ksyms.txt,
#   versions.txt, cpuinfo.txt, dmesg.txt, timing.txt.
# Everything is batched in one boot; programs stay loaded until poweroff.
set -u
D=/sys/fs/bpf/jit
mkdir -p $D $OUT/load $OUT/run $OUT/jit
t0=$(date +%s)
{ uname -a; bpftool version; cat /oracle/kernel.version; } > $OUT/versions.txt 2>&1
cat /proc/cpuinfo > $OUT/cpuinfo.txt 2>&1

PKTS=$(awk '$1 == "packet" {print $2}' plan.txt)

# 1. loads
for o in $(awk '$1 == "object" {print $2}' plan.txt); do
	mkdir -p $D/$o
	bpftool prog loadall obj/$o.o $D/$o/progs pinmaps $D/$o/maps > $OUT/load/$o.out 2>&1
	echo $? > $OUT/load/$o.rc
	echo "load $o rc=$(cat $OUT/load/$o.rc)"
done
t1=$(date +%s)

# 2. map setup (prog arrays)
awk '$1 == "setup"' plan.txt | while read -r _ o map key prog; do
	kb=$(echo "$key" | sed 's/../& /g')
	bpftool map update pinned $D/$o/maps/$map key hex $kb value pinned $D/$o/progs/$prog >> $OUT/setup.log 2>&1
	echo "setup $o $map[$key] = $prog rc=$?" | tee -a $OUT/setup.log
done

# 3. test runs
awk '$1 == "prog" && $4 == "run"' plan.txt | while read -r _ o p _; do
	[ -e $D/$o/progs/$p ] || continue
	for pk in $PKTS; do
		bpftool -j prog run pinned $D/$o/progs/$p data_in pkt/$pk.bin > $OUT/run/$o.$p.$pk.json 2>&1
	done
done
t2=$(date +%s)

# 4. JIT images, xlated, layout (all loaded programs, run or not)
cat /proc/kallsyms > $OUT/kallsyms.txt
grep -F '[bpf]' $OUT/kallsyms.txt > $OUT/bpf_kallsyms.txt
export JITINFO_KALLSYMS=$OUT/bpf_kallsyms.txt
awk '$1 == "prog"' plan.txt | while read -r _ o p _; do
	[ -e $D/$o/progs/$p ] || continue
	jitinfo $D/$o/progs/$p $OUT/jit/$o.$p > /dev/null 2> $OUT/jit/$o.$p.err || echo "jitinfo $o $p failed"
	[ -s $OUT/jit/$o.$p.err ] || rm -f $OUT/jit/$o.$p.err
done
# The verifier's hidden default callbacks are not in bpf_prog_info; kallsyms lists each as
# bpf_prog_<tag of its own two instructions>_F (the same name for all of them). Dump every one
# by address; the host assigns them to programs by their place in kallsyms.
awk '$3 ~ /_F$/ {print $1}' $OUT/bpf_kallsyms.txt | while read -r a; do
	jitinfo --ksym 0x$a $OUT/jit/hidden_cb.$a > /dev/null 2>&1 || echo "jitinfo --ksym 0x$a failed"
done
grep -F -e ' T bpf_throw' -e ' T __bpf_call_base' -e ' T arch_bpf_stack_walk' $OUT/kallsyms.txt > $OUT/ksyms.txt
dmesg > $OUT/dmesg.txt 2>&1
t3=$(date +%s)
echo "loads $((t1 - t0)) s, runs $((t2 - t1)) s, jitinfo $((t3 - t2)) s" | tee $OUT/timing.txt
